"""Words that carry no meaning of their own in a question or a claim.

Citation checking (``citations``) ignores them when it compares a sentence with a passage,
and query rewriting (``rewrite``) when it decides whether a follow-up stands alone.
"""

from __future__ import annotations

_STOPWORDS = (
    "a an the and or but if then else of to in on at by for with from into onto over under "
    "about as is are was were be been being am do does did done have has had having it its "
    "this that these those there here i you he she we they me him her us them my your his "
    "our their what which who whom whose when where why how can could will would shall "
    "should may might must not no yes so than too very just also only any all each some "
    "such more most other own same both few once up down out off again further s t don "
    "please tell know get got one ones"
)
STOPWORDS = frozenset(_STOPWORDS.split())
