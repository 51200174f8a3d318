"""Probabilistic record linkage for the duplicate checks (Fellegi-Sunter, learned per tenant).

* :mod:`.fs`: the model (u from random pairs, m and lambda by EM, term frequencies,
  weights, match probabilities, documented priors for tiny tenants);
* :mod:`.names`: people's names across Hangul and Latin script, swapped fields, single names;
* :mod:`.records`: which comparisons exist for the columns a tenant has, and their levels;
* :mod:`.engine`: training and scoring of the candidate pairs, with explanations;
* :mod:`.tenant`: blocking keys in DuckDB and the records read from one tenant's snapshot;
* :mod:`.merge`: the merge plan of a duplicate group (which record to keep, what to carry over).
"""
