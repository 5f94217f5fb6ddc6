"""The workspace server's prompts: code review, refactoring, test generation, documentation.

Each takes the path of a file (or folder) in the workspace plus one option, and renders a user
message with instructions followed by the file embedded as a resource. Arguments complete:
paths from the workspace's files, options from fixed lists.

Example:
    >>> PROMPTS
    ('code_review', 'refactor', 'generate_tests', 'generate_docs')
"""

from __future__ import annotations

from typing import Callable, Dict

__all__ = ["DOC_STYLES", "FOCUS_AREAS", "PROMPTS", "REFACTOR_GOALS", "TEST_FRAMEWORKS", "instructions_for"]

#: ``focus`` values offered for ``code_review``.
FOCUS_AREAS = ["correctness", "security", "performance", "readability", "maintainability", "error handling", "tests"]
#: ``goal`` values offered for ``refactor``.
REFACTOR_GOALS = [
    "simplify",
    "extract functions",
    "improve naming",
    "remove duplication",
    "add type hints",
    "improve error handling",
    "reduce nesting",
]
#: ``framework`` values offered for ``generate_tests``.
TEST_FRAMEWORKS = ["pytest", "unittest", "jest", "vitest", "mocha", "go test", "cargo test", "junit", "rspec"]
#: ``style`` values offered for ``generate_docs``.
DOC_STYLES = ["google", "numpy", "sphinx", "markdown", "jsdoc", "rustdoc", "javadoc"]


def _review(path: str, option: str) -> str:
    focus = option or "correctness"
    return (
        f"Review the code in {path}, focusing on {focus}.\n"
        "List concrete problems first (bugs, risky constructs, unclear behaviour), each with the line it concerns and "
        "a suggested fix; then briefly note what is good. Do not rewrite the whole file."
    )


def _refactor(path: str, option: str) -> str:
    return (
        f"Refactor the code in {path} to {option}.\n"
        "Keep the behaviour identical and the public interface unchanged unless asked. Explain each change in one "
        "sentence, then give the result as a patch in the '*** Begin Patch' format the apply_patch tool accepts."
    )


def _tests(path: str, option: str) -> str:
    framework = option or "pytest"
    return (
        f"Write {framework} tests for the code in {path}.\n"
        "Cover the normal cases, the edge cases and the error paths; one behaviour per test, with names that state "
        "the expected behaviour. Use no network and no sleeps; keep tests fast and independent."
    )


def _docs(path: str, option: str) -> str:
    style = option or "google"
    return (
        f"Write documentation for the code in {path} in {style} style.\n"
        "Document every public module, class and function: what it does, its parameters, return value and the errors "
        "it raises, with a short example where it helps. Do not change any code."
    )


#: prompt name -> its instruction builder ``(path, option) -> text``.
_BUILDERS: Dict[str, Callable[[str, str], str]] = {
    "code_review": _review,
    "refactor": _refactor,
    "generate_tests": _tests,
    "generate_docs": _docs,
}
#: The prompts, in the order the server lists them.
PROMPTS = tuple(_BUILDERS)


def instructions_for(prompt: str, path: str, option: str) -> str:
    """The instruction text of one prompt.

    Example:
        >>> instructions_for("generate_tests", "calc.py", "unittest").splitlines()[0]
        'Write unittest tests for the code in calc.py.'
    """
    return _BUILDERS[prompt](path, option)
