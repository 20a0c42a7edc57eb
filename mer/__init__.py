"""mer: reproducible micro-expression recognition.

Importing the package has no side effects: no logging set-up, no device choice, no file reads.
"""

__version__ = "0.1.0"
