"""The quality page's figures as people read them."""

from annotations.templatetags.ui_format import seconds
from quality.charts import label_step


def test_median_seconds_keep_a_decimal():
    assert seconds(380) == "0.4"
    assert seconds(2150) == "2.1"
    assert seconds(None) == "\u2013"


def test_date_labels_are_spaced_so_they_do_not_overlap():
    labels = [f"{day:02d} Dec 10:00" for day in range(1, 31)]
    slot = (640 - 48 - 12) / len(labels)
    step = label_step(labels, slot)
    shown = range(0, len(labels), step)
    # each label's text fits in the room of `step` slots
    assert len("01 Dec 10:00") * 6.6 <= step * slot
    assert len(shown) >= 3
    assert label_step(["1h", "2h"], 290) == 1
