"""refimpl.guide: the teaching tools of the book's "Choosing a loss" part and its misconceptions page.

- :mod:`refimpl.guide.cards`: a card per loss (task, output, convexity, smoothness, robustness, the statistic it
  elicits), the data of the comparison tables;
- :mod:`refimpl.guide.card_checks`: the measurements that check each card's claims on refimpl's own losses
  (the comparison-table chapter runs them, and so do the tests);
- :mod:`refimpl.guide.recommend`: ``recommend()`` and the decision tree of the guide;
- :mod:`refimpl.guide.diagnose`: ``diagnose()``, detectors of the common pitfalls.

``refimpl.recommend`` and ``refimpl.diagnose`` stay available at the top level (imported when first used).
"""
