"""A transparency log witness (`robopass witness serve`), per C2SP tlog-witness.

A witness cosigns a log's checkpoint only after checking the log's signature
and a consistency proof from the last checkpoint it cosigned for that log, and
it records the new one durably before answering, so it never cosigns two
views of one log that disagree, across restarts and kill -9 included.
"""
