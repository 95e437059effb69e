from allauth.account.adapter import DefaultAccountAdapter


class InviteOnlyAccountAdapter(DefaultAccountAdapter):
    """Accounts are created by an admin; the public sign-up form is closed."""

    def is_open_for_signup(self, request) -> bool:
        return False
