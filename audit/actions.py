"""Every action the audit trail knows, with how the admin's pages render it.

``audit.record`` refuses a name that is not registered here, so a typo cannot
create a new, unreviewed kind of event.
"""

ACTIONS: dict[str, str] = {
    "annotations.donation_create": "received donation {target_id}",
    "annotations.crop_image_view": "viewed the image of word crop {target_id}",
    "annotations.crop_context_view": "viewed the line around word crop {target_id}",
    "annotations.crop_image_denied": "was refused the image of word crop {target_id}",
    "annotations.crop_context_denied": "was refused the line around word crop {target_id}",
    "annotations.crop_image_damaged": (
        "could not read the image of word crop {target_id}: its stored blob is damaged"
    ),
    "annotations.donation_rejected": "refused a donated file: {data[reason]}",
    "annotations.label_submit": "labeled word crop {data[crop_id]}",
    "annotations.label_revise": "corrected their label of word crop {data[crop_id]}",
    "annotations.task_skip": "skipped labeling task {target_id}",
    "annotations.service_token_create": "created service token {data[name]}",
    "accounts.sign_in": "signed in ({data[methods]})",
    "accounts.sign_in_failed": "failed to sign in as {data[username]}",
    "accounts.sign_out": "signed out",
    "accounts.lockout": "locked out {data[username]} after repeated failed sign-ins",
    "accounts.mfa_added": "added a {data[type]} authenticator",
    "accounts.mfa_removed": "removed a {data[type]} authenticator",
    "accounts.mfa_used": "confirmed their identity with a {data[type]} authenticator",
    "accounts.mfa_failed": "gave a wrong {data[type]} second factor",
    "accounts.roles_change": (
        "changed the roles of {data[username]}: added {data[added]}, removed {data[removed]}"
    ),
    "accounts.account_change": "changed the account {data[username]}: {data[fields]}",
    "accounts.account_deactivate": "deactivated the account {data[username]}",
    "accounts.session_end": "ended a session of {data[username]} ({data[reason]})",
    "accounts.service_token_revoke": "revoked service token {data[name]}",
    "annotations.donation_withdraw": "withdrew donation {target_id}: key destroyed, crops deleted",
    "annotations.service_token_use": "service token {target_id} called {data[method]} {data[path]}",
    "annotations.service_token_refused": "refused service token {data[prefix]}… on {data[path]}",
    "annotations.donation_ready": "finished processing donation {target_id}: {data[crops]} crop(s)",
    "admin.object_add": "added {data[object]} in the Django admin",
    "admin.object_change": "changed {data[object]} in the Django admin: {data[change]}",
    "admin.object_delete": "deleted {data[object]} in the Django admin",
    "ocr_bridge.document_read": "decrypted donation {target_id} to detect words",
    "ocr_bridge.crops_read": "decrypted {data[count]} crop(s) of donation {target_id} to prefill",
    "ocr_bridge.donation_failed": "processing of donation {target_id} failed: {data[reason]}",
    "ocr_bridge.donation_recut": (
        "cut donation {target_id} anew: {data[new]} new crop(s), {data[removed]} removed, "
        "{data[kept]} labeled or leased kept"
    ),
    "ocr_bridge.donation_text_read": "read the page text of donation {target_id} ({data[format]})",
    "audit.events_export": "exported audit events as {data[format]}",
    "exports.export_request": "requested a {data[format]} dataset export {target_id}",
    "exports.export_build": (
        "built dataset export {target_id}: decrypted {data[crops_decrypted]} crop(s) "
        "of {data[documents]} document(s)"
    ),
    "exports.export_failed": "dataset export {target_id} failed: {data[reason]}",
    "exports.export_download": "downloaded dataset export {target_id} ({data[format]})",
    "exports.export_delete": "deleted dataset export {target_id}: {data[reason]}",
    "exports.export_withdrawn": "deleted dataset export {target_id}: {data[reason]}",
    "exports.export_expire": "deleted expired dataset export {target_id}",
    "exports.export_directory": "exported a {data[format]} dataset into a server directory",
    "ocr_bridge.model_retrain_request": "started retraining the recognizer as {data[name]}",
    "ocr_bridge.training_crops_read": (
        "decrypted {data[count]} crop(s) of {data[documents]} document(s) to train and "
        "evaluate model {target_id}"
    ),
    "ocr_bridge.model_register": (
        "registered model {data[name]}: frozen-split accuracy {data[accuracy]} "
        "(parent {data[parent]}: {data[parent_accuracy]})"
    ),
    "ocr_bridge.model_failed": "training model {data[name]} failed: {data[reason]}",
    "ocr_bridge.model_promote": "promoted model {data[name]} ({data[how]})",
    "ocr_bridge.crops_reprefill": (
        "read {data[count]} unlabeled crop(s) of {data[documents]} document(s) again "
        "with model {data[name]}"
    ),
    "quality.review_decide": "reviewed word crop {target_id}: {data[decision]}",
    "quality.gold_import": "imported {data[count]} gold answer(s)",
    "quality.annotator_flagged": (
        "flagged annotator {target_id} below the reliability bar "
        "({data[sent_to_review]} label(s) sent to review)"
    ),
    "exports.export_requeue": (
        "dataset export {target_id} queued again: attempt {data[attempt]} failed ({data[reason]})"
    ),
}


def describe(action: str, *, target_id: str, data: dict) -> str:
    template = ACTIONS.get(action)
    if template is None:
        return action
    try:
        return template.format(target_id=target_id, data=_readable(data))
    except (KeyError, IndexError, AttributeError):
        return action


def _readable(data: dict) -> dict:
    """Values as people read them: ["password", "mfa"] -> "password, mfa" (not a list)."""
    if not isinstance(data, dict):
        return data
    return {key: readable_value(value) for key, value in data.items()}


def readable_value(value) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(readable_value(item) for item in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {readable_value(item)}" for key, item in value.items()) or "none"
    if value is None or value == "":
        return "none"
    if value is True or value is False:
        return "yes" if value else "no"
    return str(value)
