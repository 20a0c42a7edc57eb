"""Stage entry points: the only code that reads params.yaml, argv and files.

Each module has a ``main(argv) -> int`` (argument parsing and I/O) around a core function that
takes typed values and returns data, as in DVC's example-get-started.
"""
