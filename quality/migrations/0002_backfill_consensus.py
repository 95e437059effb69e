from django.db import migrations

# Before consensus, a done task meant an accepted crop, exported with its newest current
# label at confidence 1.0 (the interim rule of exports.selectors.accepted_labels). Carry
# that over, so that nothing exportable stops being exportable. Plain SQL that PostgreSQL
# and the embedded SQLite both run (no DISTINCT ON, no ON CONFLICT).
BACKFILL = """
INSERT INTO quality_cropconsensus (crop_id, state, text, rotated, non_english, unreadable,
    confidence, n_labels, decided_by, label_id, review_reason, updated_at)
SELECT l.crop_id, 'accepted', l.text, l.rotated, l.non_english,
    l.unreadable, 1.0, t.labels_count, 'consensus', l.id, '', CURRENT_TIMESTAMP
FROM annotations_label l
JOIN annotations_task t ON t.id = l.task_id AND t.status = 'done'
WHERE NOT EXISTS (SELECT 1 FROM annotations_label r WHERE r.revises_id = l.id)
  AND NOT EXISTS (
    SELECT 1 FROM annotations_label n
    WHERE n.crop_id = l.crop_id AND n.id > l.id
      AND NOT EXISTS (SELECT 1 FROM annotations_label nr WHERE nr.revises_id = n.id)
  )
  AND NOT EXISTS (SELECT 1 FROM quality_cropconsensus c WHERE c.crop_id = l.crop_id)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("quality", "0001_initial"),
        ("annotations", "0006_quality_redundancy_gold"),
    ]

    operations = [migrations.RunSQL(BACKFILL, migrations.RunSQL.noop)]
