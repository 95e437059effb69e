"""The annotator-loop benchmark by job: ``database`` (its own database and environment),
``seeding`` (the data), ``server`` (the app as deployed, and its sampler), ``load`` (the
simulated annotators), ``report`` (the table). ``benchmarks/annotator_loop.py`` runs them."""
