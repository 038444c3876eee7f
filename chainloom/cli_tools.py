"""The `chainloom` commands that help a user start: init, examples and shell completion.

`init NAME` writes a new flow file from a template (rag, chat, agent); `examples`
lists the bundled example flows and `examples copy NAME` copies one, with the sample
data it reads, into a folder; `completion bash|zsh|fish` prints a completion script
built from the command's own parser, so it always knows every command and option.
Everything heavy is imported inside the commands (start-up stays light).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path
from typing import Any

from chainloom.term import EXIT_FAILED, EXIT_OK, EXIT_UNRUNNABLE, Term

# template name -> (starter in examples/templates/, else the example flow it is made from)
TEMPLATES: dict[str, tuple[str, str]] = {"rag": ("templates/rag.json", "rag-qa.json"),
                                         "chat": ("templates/chat-memory.json", "chatbot-memory.json"),
                                         "agent": ("templates/agent-tools.json", "agent-react.json")}
_LOADERS = ("loader.directory", "loader.auto", "loader.text")


def _examples() -> Path:
    from nodes.support.paths import examples_dir  # noqa: PLC0415

    return examples_dir()


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_")[:64]
    return slug if slug and slug[0].isalpha() else f"flow-{slug}"[:64]


# ---------------------------------------------------------------- init
def cmd_init(args: argparse.Namespace, term: Term) -> int:
    from engine.flow import dumps_flow, parse_flow  # noqa: PLC0415

    target = Path(args.name if args.name.endswith(".json") else f"{args.name}.json")
    if target.exists() and not args.force:
        term.line(f"✗ {target} already exists", err=True)
        term.line("  hint: choose another name, or pass --force to overwrite it", err=True)
        return EXIT_FAILED
    body = _template(args.template)
    body["id"], body["name"] = _slug(target.stem), target.stem
    body["description"] = f"Made with `chainloom init --template {args.template}`."
    if args.template == "rag":
        _point_loaders_at(body, args.docs)
    flow = parse_flow(json.dumps(body))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(dumps_flow(flow), encoding="utf-8")
    term.line(f"✓ wrote {target} (template {args.template}: {len(flow.nodes)} nodes)")
    if args.template == "rag" and not Path(args.docs).is_dir():
        term.line(f"  next: put your .md/.txt/.pdf files in {args.docs}/ (or pass --docs FOLDER)")
    term.line(f"  run it: chainloom run {target}")
    return EXIT_OK


def _template(name: str) -> dict[str, Any]:
    starter, example = TEMPLATES[name]
    folder = _examples()
    path = folder / starter if (folder / starter).is_file() else folder / example
    body: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return body


def _point_loaders_at(body: dict[str, Any], folder: str) -> None:
    for node in body["nodes"]:
        if node["type"] in _LOADERS and "path" in node.get("config", {}):
            node["config"]["path"] = folder
            if node["type"] == "loader.directory":  # every file; a stray binary one is skipped, not fatal
                node["config"].update({"glob": "**/*.*", "skip_errors": True})
        if node["type"] == "vectorstore.chroma":
            node["config"]["collection"] = _slug(body["id"])[:60].rjust(3, "x")


# ---------------------------------------------------------------- examples
def cmd_examples(args: argparse.Namespace, term: Term) -> int:
    if args.examples_command == "copy":
        return examples_copy(args, term)
    from rich.table import Table  # noqa: PLC0415

    folder = _examples()
    table = Table(header_style="bold", title=f"examples in {folder}", title_justify="left")
    for column in ("name", "title"):
        table.add_column(column)
    for path in sorted(folder.glob("*.json")):
        table.add_row(path.stem, str(json.loads(path.read_text(encoding="utf-8")).get("name", "")))
    term.out.print(table)
    term.line("run one: chainloom run NAME.json from that folder, or `chainloom examples copy NAME` first")
    return EXIT_OK


def examples_copy(args: argparse.Namespace, term: Term) -> int:
    folder = _examples()
    source = folder / f"{args.example.removesuffix('.json')}.json"
    if not source.is_file():
        names = ", ".join(sorted(p.stem for p in folder.glob("*.json")))
        term.line(f"✗ no example named '{args.example}'", err=True)
        term.line(f"  hint: the examples are: {names}", err=True)
        return EXIT_UNRUNNABLE
    dest = Path(args.dest)
    target = dest / source.name
    if target.exists() and not args.force:
        term.line(f"✗ {target} already exists", err=True)
        term.line("  hint: pass --force to overwrite it, or copy into another folder", err=True)
        return EXIT_FAILED
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    copied = [str(target)]
    for data in sorted(_data_paths(source, folder)):
        out = dest / data.relative_to(folder)
        if data.is_dir():
            shutil.copytree(data, out, dirs_exist_ok=True)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(data, out)
        copied.append(str(out))
    term.line(f"✓ copied {', '.join(copied)}")
    here = dest.resolve() == Path.cwd().resolve()
    term.line(f"  run it: {'' if here else f'cd {dest} && '}chainloom run {target.name}"
              + ("" if here else "  (its data paths are relative to that folder)"))
    return EXIT_OK


def _data_paths(flow_file: Path, folder: Path) -> set[Path]:
    """The sample files and folders (inside the examples' folder) a flow reads, and flows it calls."""
    body = json.loads(flow_file.read_text(encoding="utf-8"))
    found: set[Path] = set()
    for node in body.get("nodes", []):
        for key in ("path", "script", "flow"):
            value = node.get("config", {}).get(key)
            if isinstance(value, str) and value:
                candidate = (folder / value).resolve()
                if candidate.exists() and candidate.is_relative_to(folder.resolve()) and candidate != folder:
                    found.add(candidate)
    return found


# ---------------------------------------------------------------- completion
def cmd_completion(args: argparse.Namespace, term: Term) -> int:
    from chainloom.cli import build_parser  # noqa: PLC0415

    tree = command_tree(build_parser())
    script = {"bash": bash_script, "zsh": zsh_script, "fish": fish_script}[args.shell](tree)
    term.out.file.write(script)
    return EXIT_OK


Tree = dict[str, Any]  # {"options": [...], "commands": {name: Tree}}


def command_tree(parser: argparse.ArgumentParser) -> Tree:
    """Every sub-command and option of `parser`, as nested dicts."""
    tree: Tree = {"options": [], "commands": {}}
    for action in parser._actions:  # argparse keeps no public list of its actions
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                tree["commands"][name] = command_tree(sub)
        else:
            tree["options"].extend(o for o in action.option_strings if o.startswith("--"))
    return tree


def _paths(tree: Tree, prefix: str = "") -> dict[str, Tree]:
    out = {prefix: tree}
    for name, sub in tree["commands"].items():
        out.update(_paths(sub, f"{prefix} {name}".strip()))
    return out


def bash_script(tree: Tree) -> str:
    cases = []
    for path, node in _paths(tree).items():
        words = " ".join([*node["commands"], *node["options"]])
        cases.append(f'        "{path}") words="{words}" ;;')
    return f"""# chainloom completion for bash: eval "$(chainloom completion bash)"
_chainloom() {{
    local cur path="" w i
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${{COMP_WORDS[i]}}"
        [[ $w == -* ]] && continue
        case "$path" in
{_bash_known(tree)}
        esac
    done
    local words=""
    case "$path" in
{chr(10).join(cases)}
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
    [[ ${{#COMPREPLY[@]}} -eq 0 ]] && COMPREPLY=($(compgen -f -- "$cur"))
}}
complete -o filenames -F _chainloom chainloom
"""


def _bash_known(tree: Tree) -> str:
    lines = []
    for path, node in _paths(tree).items():
        if node["commands"]:
            names = "|".join(node["commands"])
            joined = f"{path} $w" if path else "$w"
            lines.append(f'            "{path}") case "$w" in {names}) path="{joined}" ;; esac ;;')
    return "\n".join(lines)


def zsh_script(tree: Tree) -> str:
    return ("#compdef chainloom\n# chainloom completion for zsh: eval \"$(chainloom completion zsh)\"\n"
            "autoload -U +X bashcompinit && bashcompinit\n" + bash_script(tree))


def fish_script(tree: Tree) -> str:
    lines = ["# chainloom completion for fish: chainloom completion fish | source", "complete -c chainloom -f"]
    top = " ".join(tree["commands"])
    lines.append(f'complete -c chainloom -n "not __fish_seen_subcommand_from {top}" -a "{top}"')
    for name, sub in tree["commands"].items():
        if sub["commands"]:
            subs = " ".join(sub["commands"])
            lines.append(f'complete -c chainloom -n "__fish_seen_subcommand_from {name}; and not '
                         f'__fish_seen_subcommand_from {subs}" -a "{subs}"')
        for option in sorted({o for node in _paths(sub).values() for o in node["options"]}):
            lines.append(f'complete -c chainloom -n "__fish_seen_subcommand_from {name}" -l {option[2:]}')
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- parsers
def add_parsers(sub: Any) -> None:
    p = sub.add_parser("init", help="write a new flow file from a template (rag, chat, agent)")
    p.add_argument("name", metavar="NAME", help="the flow's name; writes NAME.json")
    p.add_argument("--template", "-t", choices=sorted(TEMPLATES), default="rag", help="what to start from")
    p.add_argument("--docs", default="docs", metavar="FOLDER",
                   help="rag: the folder of your documents (relative to where you run the flow)")
    p.add_argument("--force", action="store_true", help="overwrite NAME.json if it exists")
    p.set_defaults(handler=cmd_init)
    p = sub.add_parser("examples", help="list the bundled example flows; `examples copy NAME` copies one")
    p.set_defaults(handler=cmd_examples, examples_command="list")
    examples_sub = p.add_subparsers(dest="examples_command", metavar="list|copy")
    examples_sub.add_parser("list", help="list the example flows")
    copy = examples_sub.add_parser("copy", help="copy an example and the sample data it reads into a folder")
    copy.add_argument("example", metavar="NAME")
    copy.add_argument("dest", nargs="?", default=".", metavar="FOLDER", help="where to (default: here)")
    copy.add_argument("--force", action="store_true", help="overwrite files that exist")
    p = sub.add_parser("completion", help="print a shell completion script (bash, zsh or fish)",
                       description='Enable with: eval "$(chainloom completion bash)" (or zsh); '
                                   "chainloom completion fish | source")
    p.add_argument("shell", choices=["bash", "zsh", "fish"])
    p.set_defaults(handler=cmd_completion)
