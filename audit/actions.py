"""Every action the audit trail knows, with how the admin's pages render it.

``audit.record`` refuses a name that is not registered here, so a typo cannot
create a new, unreviewed kind of event.
"""

ACTIONS: dict[str, str] = {
    "annotations.donation_create": "received donation {target_id}",
    "annotations.crop_image_view": "viewed the image of word crop {target_id}",
    "annotations.label_submit": "labeled word crop {data[crop_id]}",
    "annotations.label_revise": "corrected their label of word crop {data[crop_id]}",
    "annotations.task_skip": "skipped labeling task {target_id}",
    "annotations.service_token_create": "created service token {data[name]}",
    "ocr_bridge.document_read": "decrypted donation {target_id} to detect words",
    "ocr_bridge.crops_read": "decrypted {data[count]} crop(s) of donation {target_id} to prefill",
    "ocr_bridge.donation_failed": "processing of donation {target_id} failed: {data[reason]}",
}


def describe(action: str, *, target_id: str, data: dict) -> str:
    template = ACTIONS.get(action)
    if template is None:
        return action
    try:
        return template.format(target_id=target_id, data=data)
    except (KeyError, IndexError, AttributeError):
        return action
