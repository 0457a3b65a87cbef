"""The review page: reports/index.html, one self-contained page over every stage's outputs."""
