"""Reactions to other apps' signals (connected in ``ExportsConfig.ready``)."""

from exports import services


def delete_exports_of_withdrawn(sender, *, donation, **kwargs) -> None:
    """A withdrawn donation's crops must not stay in any export: delete those exports."""
    services.exports_delete_for_withdrawal(donation_id=donation.pk)
