"""The one exception the NAB scorer raises.

:class:`NabError` is a :class:`~cepkit.errors.CepkitError` and a :class:`ValueError`: the
corpus folder or a detector's scores are not what the benchmark needs. The message names
the file (``realKnownCause/nyc_taxi.csv``) and what is wrong with it.

>>> err = NabError("realTweets/Twitter_volume_FB.csv: 3 scores for 5 rows")
>>> isinstance(err, ValueError), str(err)
(True, 'realTweets/Twitter_volume_FB.csv: 3 scores for 5 rows')
"""

from __future__ import annotations

from cepkit.errors import CepkitError

__all__ = ["NabError"]


class NabError(CepkitError, ValueError):
    """The NAB corpus, its labels or a detector's scores are unusable as given."""
