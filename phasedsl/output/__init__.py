"""Output: rendering only, never compiling or sampling.

Takes a results document (the shape of ``results.json``) and prepared figure data; gives the
rich terminal report and Markdown (``report``), findings in words (``notes``), figures
(``plots``), the summary of a checked spec (``describe``) and the progress bar (``progress``).
"""
