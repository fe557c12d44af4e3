"""Sphinx directives that keep the reference pages in step with the code.

* ``.. aseml-cli::`` prints the ``--help`` of ``aseml-zif`` and of every subcommand.
* ``.. aseml-api::`` documents every module of the installed ``aseml_zif`` package with
  ``automodule`` (public members from their docstrings), so a new module appears by itself.
"""
import importlib
import pkgutil

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

#: modules documented elsewhere or holding only private helpers
SKIP_MODULES = ("aseml_zif.cli.", "aseml_zif._resources")


def _help_texts(parser, words=()):
    """(command words, help text) of ``parser`` and all its subparsers, depth first."""
    import argparse

    yield words, parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _help_texts(sub, (*words, name))


class CliHelp(SphinxDirective):
    """Literal blocks with the help of every ``aseml-zif`` command, under one heading each."""

    def run(self):
        from aseml_zif.cli import build_parser

        result = []
        for words, text in _help_texts(build_parser()):
            title = " ".join(("aseml-zif", *words))
            section = nodes.section(ids=[nodes.make_id(title)])
            section += nodes.title(text=title)
            block = nodes.literal_block(text, text)
            block["language"] = "none"
            section += block
            result.append(section)
        return result


def public_modules():
    """Names of the importable modules of ``aseml_zif`` (sorted), private ones left out."""
    import aseml_zif

    names = ["aseml_zif"]
    for info in pkgutil.walk_packages(aseml_zif.__path__, "aseml_zif."):
        leaf = info.name.rsplit(".", 1)[-1]
        if leaf.startswith("_") or info.name.startswith(SKIP_MODULES):
            continue
        names.append(info.name)
    return sorted(names)


class ApiReference(SphinxDirective):
    """``automodule`` of every public module, each under its own heading. A package shows only
    its docstring: the names it re-exports are documented once, in the module defining them."""

    def run(self):
        lines = []
        for name in public_modules():
            module = importlib.import_module(name)
            options = ["   :no-members:"] if hasattr(module, "__path__") else []
            lines += [name, "-" * len(name), "", f".. automodule:: {name}", *options, ""]
        container = nodes.section()
        container.document = self.state.document
        self.state.nested_parse(StringList(lines, source="aseml-api"), self.content_offset,
                                container, match_titles=True)
        return container.children


def setup(app):
    app.add_directive("aseml-cli", CliHelp)
    app.add_directive("aseml-api", ApiReference)
    return {"parallel_read_safe": True, "version": "1"}
