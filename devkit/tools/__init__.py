"""Developer tools run from the Makefile (``python -m devkit.tools.<name>``):
static analysis, mutation testing, the state machine's speed, and the
generator of ``navlend/abi/``."""
