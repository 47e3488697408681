"""Report helpers without the model."""

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.review.report import first_disjoint_pair


@given(
    st.dictionaries(
        st.text(alphabet="abcdef", min_size=1, max_size=3),
        st.sets(st.sampled_from(["leiter", "sprecher", "stadt", "hagen", "amt"]), max_size=3),
        max_size=8,
    )
)
@settings(max_examples=300, deadline=None)
def test_first_disjoint_pair_matches_comparing_every_pair(words):
    docs = sorted(words)
    ordered = {doc: words[doc] for doc in docs}
    every_pair = [(a, b) for i, a in enumerate(docs) for b in docs[i + 1 :] if not (ordered[a] & ordered[b])]
    assert first_disjoint_pair(ordered) == (every_pair[0] if every_pair else None)
