#!/usr/bin/env python
"""Build the project's web documentation from the notebooks, offline, with nbdev's own processing and MkDocs.

A development tool, not part of the `stellar_nbs` package (nothing at run time needs nbdev, execnb or MkDocs):
run it from a checkout with the development extras installed (`pip install -e ".[dev]"`):

    python tests/tools/build_docs.py                # the site in _docs/ (open _docs/index.html)
    python tests/tools/build_docs.py --execute      # run every notebook first, so pages show outputs and figures
    python tests/tools/build_docs.py --help

How it works, step by step with examples and tests: nbs/11_docs.ipynb (the page "Documentation site").
tests/test_docs.py builds the whole site and checks it (run by CI through tests/run_all.sh).
Only nbdev's public API is used (`nbdev.process`, `nbdev.processors`' processor classes, `nbdev.config`).
"""

import ast, logging, os, re, shutil, sys, tempfile, time, base64, importlib, inspect, html, json, warnings
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from fastcore.basics import AttrDict
from fastcore.parallel import parallel
from fastcore.script import call_parse
from fastcore.xtras import working_directory
try:
    from execnb.nbio import read_nb, mk_cell
    from execnb.shell import CaptureShell
    from nbdev.config import get_config
    from nbdev.process import NBProcessor, Processor, extract_directives
    from nbdev.processors import FilterDefaults, exec_show_docs, add_show_docs
except ImportError as e:
    raise ImportError(f"{e.name} is missing: building the docs needs the development extras "
                      "(pip install -e '.[dev]' in the repository)") from e

__all__ = ['project_root', 'project_path', 'doc_notebooks', 'page_name', 'pandoc_slug', 'default_exp', 'front_matter',
           'shown_name', 'drop_repeated_show_docs', 'order_show_docs', 'split_title_cell', 'exec_show_docs_recorded',
           'docs_processors', 'execute_notebook', 'process_notebook', 'cell_options', 'output_markdown',
           'quarto_to_mkdocs', 'notebook_markdown', 'render_notebook', 'mkdocs_config', 'write_mkdocs_config',
           'run_mkdocs', 'SiteBuild', 'build_docs', 'page_names', 'module_problems', 'check_docs', 'readme_markdown',
           'write_readme', 'stellar_nbs_docs']

MODULE = Path(__file__).stem   # how MkDocs and the worker processes import this file (its folder is on sys.path)
if str(Path(__file__).resolve().parent) not in sys.path: sys.path.insert(0, str(Path(__file__).resolve().parent))

def project_root(near=None) -> Path:
    "Folder holding `settings.ini`: the nearest one above `near` (a path), or above the current folder."
    start = Path(near).resolve() if near is not None else Path.cwd()
    for d in [start, *start.parents]:
        if (d/'settings.ini').exists(): return d
    raise FileNotFoundError(f"{start}: no settings.ini here or above, so not inside an nbdev project")

def project_path(p) -> Path:
    "`p` as an absolute path; a relative `p` is taken from the project root (the folder with `settings.ini`)."
    p = Path(p)
    return p if p.is_absolute() else project_root()/p

def doc_notebooks(nbs='nbs'):
    "Notebooks in `nbs` that become pages, home page (`index.ipynb`) first, then by file name; `_*.ipynb` skipped."
    files = [p for p in project_path(nbs).glob('*.ipynb') if not p.name.startswith(('_', '.'))]
    return sorted(files, key=lambda p: (p.stem != 'index', p.name))

def page_name(notebook) -> str:
    "Markdown page for `notebook`, named as nbdev names its HTML page: `00_spectra.ipynb` -> `spectra.md`."
    return re.sub(r'^\d+[a-zA-Z0-9]*_', '', Path(notebook).name.lower()).rsplit('.', 1)[0] + '.md'   # nbdev's rule

def pandoc_slug(value:str, separator:str='-') -> str:
    "Heading id as pandoc (and so Quarto and nbdev's doc links) makes it: `Grid.padded_to` -> `grid.padded_to`."
    s = re.sub(r'<[^>]+>', '', html.unescape(value))
    s = re.sub(r'[^\w\s.-]', '', s).strip().lower()
    s = re.sub(r'\s+', separator, s)
    return re.sub(r'^[^a-z]+', '', s) or 'section'

_re_default_exp = re.compile(r'^\s*#\|\s*default_exp\s+(\S+)', flags=re.M)
_re_front_matter = re.compile(r'^---\s*\n(.*?\S+.*?)\n---\s*$', flags=re.S)

def default_exp(nb):
    "The module a notebook exports to (its `#| default_exp` directive), or None for a notebook that exports nothing."
    for c in nb.cells:
        if c.cell_type == 'code' and (m := _re_default_exp.search(c.source or '')): return m.group(1)
    return None

def front_matter(source:str) -> dict:
    "The YAML front matter of a raw cell (`---` / `title: ...` / `---`) as a dict; {} when it has none."
    m = _re_front_matter.search(source.strip())
    return (yaml.safe_load(m.group(1)) or {}) if m else {}

def shown_name(cell):
    "The name a code cell's first `show_doc(name)` documents (`'Grid.parse'`), or None."
    trees = cell.parsed_() if cell.cell_type == 'code' and cell.source else None
    for t in trees or []:
        if (isinstance(t, ast.Expr) and isinstance(t.value, ast.Call) and isinstance(t.value.func, ast.Name)
            and t.value.func.id == 'show_doc' and t.value.args): return ast.unparse(t.value.args[0])
    return None

class drop_repeated_show_docs(Processor):
    "Remove the `show_doc` cells nbdev added for names the notebook already documents with its own `show_doc`."
    def begin(self):
        own = {shown_name(c) for c in self.nb.cells if not getattr(c, 'has_sd', False)} - {None}
        self.nb.cells = [c for c in self.nb.cells if not (getattr(c, 'has_sd', False) and shown_name(c) in own)]

class order_show_docs(Processor):
    "Put the `show_doc` cells nbdev adds after an exported cell in the order the cell defines the names."
    def begin(self):
        cells, res, run = self.nb.cells, [], []
        for c in cells + [None]:
            if c is not None and getattr(c, 'has_sd', False): run.append(c); continue
            res += run[::-1] + ([c] if c is not None else []); run = []
        self.nb.cells = res

_re_fm_opt = re.compile(r'^-\s+([\w-]+:\s*\S.*?)\s*$')    # `- skip_exec: true`; `- Method 1: MAD` is prose

def _is_fm_options(lines):
    try: return bool(lines) and isinstance(yaml.safe_load('\n'.join(_re_fm_opt.match(l).group(1) for l in lines)), dict)
    except (yaml.YAMLError, AttributeError): return False

class split_title_cell(Processor):
    "Move the prose that follows title and description in the first `# Title` cell into a cell of its own."
    def begin(self):
        for i, cell in enumerate(self.nb.cells):
            if cell.cell_type != 'markdown' or not re.search(r'^#\s+\S', cell.source, flags=re.M): continue
            head, rest = [], cell.source.splitlines()
            while rest and (not rest[0].strip() or re.match(r'^(#\s+\S|>\s)', rest[0])): head.append(rest.pop(0))
            opts = [l for l in rest if _re_fm_opt.match(l)]
            if _is_fm_options(opts): head += opts; rest = [l for l in rest if l not in opts]
            if any(l.strip() for l in rest):
                cell.source = '\n'.join(head).strip()
                self.nb.cells.insert(i + 1, mk_cell('\n'.join(rest).strip(), 'markdown'))
            return

class exec_show_docs_recorded(exec_show_docs):
    "nbdev's `exec_show_docs`, recording a failing cell in `nb.problems_` instead of stopping."
    def __call__(self, cell):
        executed = cell.get('outputs') if cell.cell_type == 'code' and not shown_name(cell) else None
        try: super().__call__(cell)
        except Exception as e:
            err = e.__cause__ or e
            first = cell.source.strip().splitlines()[0] if cell.source.strip() else ''
            self.nb.problems_.append(f"cell {cell.idx_} ({first!r}): {type(err).__name__}: {err}")
            self.k.exc = None
        if executed: cell.outputs = executed     # keep what `execute_notebook` produced for ordinary cells

def docs_processors():
    "nbdev's docs processors (`FilterDefaults().procs()`), adapted as explained above."
    res = [split_title_cell]
    for p in FilterDefaults().procs():
        res.append(exec_show_docs_recorded if p is exec_show_docs else p)
        if p is add_show_docs: res += [drop_repeated_show_docs, order_show_docs]
    return res

def _skip_cell(flags):
    def _f(cell):
        if cell.cell_type != 'code' or 'nbdev_export'+'(' in cell.source: return True
        d = extract_directives(AttrDict(source=cell.source), remove=False) or {}
        return d.get('eval:', [''])[0].lower() == 'false' or bool(set(flags) & d.keys())
    return _f

def execute_notebook(nb, path, skip_flags=None):
    "Run the cells of `nb` (read from `path`) in place as `nbdev_test` does; returns the failing cells."
    k, problems = CaptureShell(path), []
    with working_directory(Path(path).parent):
        flags = skip_flags if skip_flags is not None else get_config().get('tst_flags', '').split()
        for cell in nb.cells:
            if _skip_cell(flags)(cell): continue
            k.cell(cell)
            if k.exc:
                problems.append(f"cell {cell.idx_} ({cell.source.strip().splitlines()[0]!r}): {type(k.exc).__name__}: {k.exc}")
                k.exc = None
    return problems

def process_notebook(path, execute=False, skip_flags=None):
    "Notebook at `path` after nbdev's docs processing; `nb.problems_` lists the cells that failed."
    path = Path(path).resolve()
    nb = read_nb(path)
    problems = execute_notebook(nb, path, skip_flags) if execute else []
    nb.problems_ = problems
    with working_directory(path.parent):
        NBProcessor(nb=nb, procs=docs_processors()).process()
    return nb

_re_opt = re.compile(r'^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')

def cell_options(source:str):
    "Quarto cell options (`#| key: value` lines at the top of `source`) as a dict, and the remaining code."
    lines, opts = source.splitlines(), {}
    while lines and _re_opt.match(lines[0]):
        k, v = _re_opt.match(lines.pop(0)).groups()
        try: opts[k] = yaml.safe_load(v)
        except yaml.YAMLError: opts[k] = v
    return opts, '\n'.join(lines).strip('\n')

_re_ansi = re.compile(r'\x1B(?:[@-Z\\-_]|\[[0-?]*[ -/]*[@-~])')

def _text(x): return ''.join(x) if isinstance(x, list) else str(x)

def _fence(text, lang=''):
    text = _re_ansi.sub('', text).rstrip('\n')
    ticks = '`' * max(3, max((len(m) for m in re.findall(r'`+', text)), default=0) + 1)
    return f"{ticks}{lang}\n{text}\n{ticks}"

def _image(data, ext, meta, assets, stem):
    assets.mkdir(parents=True, exist_ok=True)
    fn = assets/f"{stem}-{len(list(assets.glob(stem + '-*'))) + 1}.{ext}"
    if ext == 'svg': fn.write_text(_text(data))
    else: fn.write_bytes(base64.b64decode(_text(data)))
    width = (meta or {}).get('width')
    return f"![]({assets.name}/{fn.name})" + (f'{{ width="{width}" }}' if width else '')

def output_markdown(out, assets:Path, stem:str, asis=False) -> str:
    "Markdown for one notebook output; images are written to `assets` as `<stem>-<n>.<ext>`."
    kind = out.get('output_type')
    if kind == 'stream': return _fence(_text(out.get('text', '')), 'text')
    if kind == 'error': return _fence('\n'.join(out.get('traceback', [])) or f"{out.get('ename')}: {out.get('evalue')}", 'pytb')
    data, meta = out.get('data', {}), out.get('metadata', {})
    if 'text/markdown' in data and asis: return _text(data['text/markdown'])
    for mime, ext in (('image/png', 'png'), ('image/jpeg', 'jpg'), ('image/svg+xml', 'svg')):
        if mime in data: return _image(data[mime], ext, meta.get(mime), assets, stem)
    if 'text/html' in data: return _text(data['text/html'])
    if 'text/markdown' in data: return _text(data['text/markdown'])
    if 'text/latex' in data: return _text(data['text/latex'])
    if 'text/plain' in data: return _fence(_text(data['text/plain']), 'text')
    return ''

_re_div = re.compile(r'^:::+\s*(\{.*\})?\s*$')
_callouts = dict(note='note', tip='tip', important='important', warning='warning', caution='danger')

def quarto_to_mkdocs(md:str, doc_url:str='') -> str:
    "Translate Quarto-only Markdown in `md` (callouts, fenced divs, absolute links to our own pages) for MkDocs."
    if doc_url: md = re.sub(re.escape(doc_url.rstrip('/')) + r'/([\w./-]+?)\.html', r'\1.md', md)
    out, inside, fenced = [], [], False
    for line in md.splitlines():
        if line.lstrip().startswith(('```', '~~~')): fenced = not fenced
        m = None if fenced else _re_div.match(line)
        if m is None: out.append('    ' * sum(inside) + line if line.strip() else line); continue
        if m.group(1):                                   # an opening fence
            kind = re.search(r'\.callout-(\w+)', m.group(1))
            title = re.search(r'title="([^"]*)"', m.group(1))
            if kind:
                out.append(f'!!! {_callouts.get(kind.group(1), "note")}' + (f' "{title.group(1)}"' if title else ''))
                out.append('')
            inside.append(bool(kind))
        elif inside: inside.pop()
    return '\n'.join(out)

def _code_markdown(cell, opts, code):
    lang = cell.metadata.get('language', 'python') if 'metadata' in cell else 'python'
    block = _fence(code, lang)
    if 'code-fold' not in opts: return block
    summary = opts.get('code-summary', 'Code')
    marker = '???+' if str(opts['code-fold']).lower() == 'show' else '???'
    return f'{marker} abstract "{summary}"\n\n' + '\n'.join('    ' + l if l else l for l in block.splitlines())

def notebook_markdown(nb, assets:Path, doc_url:str='') -> str:
    "Markdown page for a processed notebook `nb`; figures go to `assets` (a folder next to the page)."
    parts, fm = [], {}
    for i, cell in enumerate(nb.cells):
        src = cell.get('source') or ''
        if cell.cell_type == 'raw':
            if i == 0 and (d := front_matter(src)): fm = d
            continue
        if cell.cell_type == 'markdown':
            parts.append(quarto_to_mkdocs(src, doc_url)); continue
        opts, code = cell_options(src)
        if opts.get('include') is False: continue
        if code.strip() and opts.get('echo', True) is not False: parts.append(_code_markdown(cell, opts, code))
        if opts.get('output', True) is False: continue
        outs = [output_markdown(o, assets, 'cell' + str(i), asis=opts.get('output') == 'asis') for o in cell.get('outputs', [])]
        outs = [o for o in outs if o.strip()]
        if not outs: continue
        if opts.get('output') == 'asis': parts.append(quarto_to_mkdocs('\n\n'.join(outs), doc_url))
        else: parts.append('<div class="nb-output" markdown>\n\n' + '\n\n'.join(outs) + '\n\n</div>')
    head = [f"# {fm['title']}"] if fm.get('title') else []
    if fm.get('description'): head.append(f"{fm['description']}\n{{: .nb-description }}")
    return '\n\n'.join(head + parts) + '\n'

def render_notebook(notebook, docs_dir, execute=False, doc_url='', skip_flags=None) -> dict:
    "Process `notebook` and write its Markdown page into `docs_dir`; returns the page's entry for the site."
    start, notebook, docs_dir = time.time(), Path(notebook), Path(docs_dir)
    page = page_name(notebook)
    in_test = os.environ.get('IN_TEST')
    os.environ['IN_TEST'] = '1'         # what nbdev sets while processing docs
    try:
        with warnings.catch_warnings():   # nbdev's import-and-code hint; the cells that actually fail are reported
            warnings.filterwarnings('ignore', message='Found cells containing imports and other code')
            nb = process_notebook(notebook, execute=execute, skip_flags=skip_flags)
    except Exception as e: nb = e
    finally:
        if in_test is None: del os.environ['IN_TEST']
    if isinstance(nb, Exception):
        e = nb
        md = f"# {notebook.stem}\n\n!!! danger \"This page could not be built\"\n\n    {type(e).__name__}: {e}\n"
        (docs_dir/page).write_text(md)
        return dict(notebook=notebook.name, page=page, title=notebook.stem, problems=[f"{type(e).__name__}: {e}"],
                    seconds=time.time() - start)
    fm = front_matter(nb.cells[0].source) if nb.cells and nb.cells[0].cell_type == 'raw' else {}
    (docs_dir/page).write_text(notebook_markdown(nb, docs_dir/(Path(page).stem + '_files'), doc_url))
    return dict(notebook=notebook.name, page=page, title=fm.get('title', notebook.stem), problems=nb.problems_,
                seconds=time.time() - start)

_site_css = """
.md-grid { max-width: 1400px; }
.md-typeset .nb-output { border-left: 3px solid var(--md-accent-fg-color--transparent, #ccc);
  padding-left: .8em; margin: -.4em 0 1.2em; }
.md-typeset .nb-output pre { margin: .3em 0; }
.md-typeset .nb-output img { max-width: 100%; }
.md-typeset .nb-description { font-size: 1.1em; color: var(--md-default-fg-color--light); }
.md-typeset h3[id] { margin-top: 1.2em; }
"""

def mkdocs_config(pages, docs_dir, site_dir, cfg=None) -> dict:
    "MkDocs configuration for `pages` (dicts with `page` and `title`) in `docs_dir`, building into `site_dir`."
    cfg = cfg or get_config()
    return dict(
        site_name=cfg.get('title', cfg.lib_name), site_description=cfg.get('description', ''),
        site_url=cfg.get('doc_host', '') + cfg.get('doc_baseurl', '') + '/', repo_url=cfg.get('git_url'),
        docs_dir=str(docs_dir), site_dir=str(site_dir), use_directory_urls=False,
        nav=[{'Overview' if p['page'] == 'index.md' else p['title']: p['page']} for p in pages],
        theme=dict(name='material', font=False, palette=dict(primary='indigo', accent='indigo'),
                   features=['navigation.top', 'toc.follow', 'content.code.copy', 'search.highlight']),
        plugins=['search', 'offline'],
        extra_css=['stylesheets/notebooks.css'],
        markdown_extensions=['tables', 'attr_list', 'md_in_html', 'admonition', 'pymdownx.details',
                             'pymdownx.superfences', {'pymdownx.highlight': dict(use_pygments=True)},
                             {'pymdownx.arithmatex': dict(generic=True)},
                             {'toc': dict(permalink=True, toc_depth=3, slugify='PANDOC_SLUG')}],
        validation=dict(links=dict(anchors='warn', unrecognized_links='info')))

def write_mkdocs_config(config:dict, path) -> Path:
    "Write `config` as `mkdocs.yml` at `path`, with `slugify` pointing at `pandoc_slug`."
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    text = text.replace('PANDOC_SLUG', f'!!python/name:{MODULE}.pandoc_slug')
    Path(path).write_text(text)
    return Path(path)

class _Collect(logging.Handler):
    def __init__(self): super().__init__(logging.WARNING); self.records = []
    def emit(self, record): self.records.append(record.getMessage())

def run_mkdocs(config_file, strict=False) -> list:
    "Build the MkDocs site described by `config_file`; returns MkDocs' warnings."
    try:
        from mkdocs.config import load_config
        from mkdocs.commands.build import build
    except ImportError as e: raise ImportError("MkDocs is missing: pip install -e '.[dev]' (mkdocs, mkdocs-material)") from e
    log, handler = logging.getLogger('mkdocs'), _Collect()
    log.addHandler(handler)
    try: build(load_config(str(config_file), strict=strict))
    finally: log.removeHandler(handler)
    return handler.records

@dataclass
class SiteBuild:
    "What `build_docs` made: the site folder, one entry per page, notebook problems, MkDocs warnings, seconds taken."
    site: Path
    pages: list
    problems: list = field(default_factory=list)   # cells that failed under nbdev's docs processing
    warnings: list = field(default_factory=list)   # MkDocs' warnings, e.g. links to anchors that do not exist
    seconds: float = 0.
    def __repr__(self):
        return (f"SiteBuild({self.site}, {len(self.pages)} pages, {len(self.problems)} problems, "
                f"{len(self.warnings)} warnings, {self.seconds:.1f} s)")

def _copy_assets(nbs, docs_dir):
    for p in Path(nbs).rglob('*'):
        rel = p.relative_to(nbs)
        if p.suffix.lower() in ('.png', '.jpg', '.jpeg', '.gif', '.svg') and not any(s.startswith(('_', '.')) for s in rel.parts):
            (docs_dir/rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, docs_dir/rel)

def _home_from_readme(root, docs_dir):
    readme = root/'README.md'
    (docs_dir/'index.md').write_text(readme.read_text() if readme.exists() else '# Home\n')
    return dict(notebook='README.md', page='index.md', title='Home', problems=[], seconds=0.)

def build_docs(dest='_docs', nbs='nbs', execute=False, notebooks=None, n_workers=2, strict=False, build_dir=None) -> SiteBuild:
    "Build the documentation site from the notebooks in `nbs` into `dest` with nbdev's processing and MkDocs."
    start = time.time()
    root = project_root(nbs if Path(nbs).is_absolute() else None)
    nbs, dest = (root/nbs).resolve(), (root/dest).resolve()
    work = Path(build_dir).resolve() if build_dir else None
    files = doc_notebooks(nbs)
    if notebooks is not None: files = [f for f in files if f.name in set(notebooks) or f.stem in set(notebooks)]
    if not files: raise FileNotFoundError(f"{nbs}: no notebooks to document (relative paths start at {root})")
    with working_directory(root), tempfile.TemporaryDirectory(prefix='stellar_nbs_docs_') as tmp:
        cfg = get_config()
        doc_url = cfg.get('doc_host', '') + cfg.get('doc_baseurl', '')
        docs_dir = (work or Path(tmp))/'docs'
        if docs_dir.exists(): shutil.rmtree(docs_dir)
        (docs_dir/'stylesheets').mkdir(parents=True)
        (docs_dir/'stylesheets'/'notebooks.css').write_text(_site_css)
        _copy_assets(nbs, docs_dir)
        render = importlib.import_module(MODULE).render_notebook if n_workers else render_notebook
        pages = list(parallel(render, files, docs_dir=docs_dir, execute=execute, doc_url=doc_url,
                              n_workers=min(n_workers, len(files)), method='spawn', progress=False))
        if not any(p['page'] == 'index.md' for p in pages): pages.insert(0, _home_from_readme(root, docs_dir))
        problems = [f"{p['notebook']}: {m}" for p in pages for m in p['problems']]
        if dest.exists(): shutil.rmtree(dest)
        mk_warnings = run_mkdocs(write_mkdocs_config(mkdocs_config(pages, docs_dir, dest, cfg), docs_dir.parent/'mkdocs.yml'))
    res = SiteBuild(dest, pages, problems, mk_warnings, time.time() - start)
    if strict and problems: raise RuntimeError(f"{res}:\n" + '\n'.join(problems))
    return res

_re_id = re.compile(r'<h[1-6][^>]*\bid="([^"]+)"')

def page_names(html_text:str):
    "Heading ids and visible text of a built page."
    body = re.sub(r'<(script|style)\b.*?</\1>', ' ', html_text, flags=re.S)
    return set(_re_id.findall(html_text)), html.unescape(re.sub(r'<[^>]+>', ' ', body))

def _doc_words(obj):
    "First words of `obj`'s own docstring (none for dataclasses' generated ones), for finding it on a page."
    doc = obj.__dict__.get('__doc__') if inspect.isclass(obj) else getattr(obj, '__doc__', None)
    if not doc or doc.startswith(getattr(obj, '__name__', '') + '('): return ''
    return ' '.join(re.findall(r'\w+', doc)[:8])

def module_problems(module:str, page:Path) -> list:
    "Names in `module.__all__` that the built `page` does not document (functions and classes: heading and docstring)."
    if not page.exists(): return [f"{module}: page {page.name} missing"]
    try: mod = importlib.import_module(module)
    except Exception as e: return [f"{module}: cannot import ({type(e).__name__}: {e})"]
    ids, text = page_names(page.read_text())
    words = ' '.join(re.findall(r'\w+', text))
    res = []
    for name in getattr(mod, '__all__', []):
        obj = getattr(mod, name, None)
        if inspect.isclass(obj) or inspect.isroutine(obj):
            if pandoc_slug(name) not in ids: res.append(f"{module}.{name}: no API entry on {page.name}")
            elif _doc_words(obj) not in words: res.append(f"{module}.{name}: docstring not shown on {page.name}")
        elif not re.search(rf'\b{re.escape(name)}\b', text): res.append(f"{module}.{name}: not mentioned on {page.name}")
    return res

def check_docs(site='_docs', nbs='nbs') -> list:
    "Problems with the built `site`: module pages missing or not documenting their module's exported names."
    root = project_root(nbs if Path(nbs).is_absolute() else None)
    site, nbs = (root/site).resolve(), (root/nbs).resolve()
    with working_directory(root): lib = get_config().lib_name
    res = [] if (site/'index.html').exists() else [f"{site}: no index.html"]
    for nb in doc_notebooks(nbs):
        mod = default_exp(read_nb(nb))
        if mod: res += module_problems(f"{lib}.{mod}", site/Path(page_name(nb)).with_suffix('.html'))
    return res

def readme_markdown(index='nbs/index.ipynb') -> str:
    "The README text: the markdown cells of the index notebook, joined by blank lines."
    cells = json.loads(project_path(index).read_text())['cells']
    return '\n\n'.join(''.join(c['source']) for c in cells if c['cell_type'] == 'markdown') + '\n'

def write_readme(index='nbs/index.ipynb', dest='README.md') -> Path:
    "Regenerate `README.md` from the index notebook; returns its path."
    path = project_path(dest)
    path.write_text(readme_markdown(index))
    return path

@call_parse
def stellar_nbs_docs(
    dest:str='_docs',      # Folder the site is written to (relative to the project root)
    nbs:str='nbs',         # Folder holding the notebooks
    execute:bool=False,    # Run every notebook first, so pages show outputs and figures (slow)
    n_workers:int=2,       # Notebooks processed in parallel
    strict:bool=False,     # Exit with status 1 if a notebook cell fails or a module page is incomplete
    build_dir:str=None,    # Keep the generated Markdown pages and mkdocs.yml here (default: a temporary folder)
    readme:bool=False,     # Only regenerate README.md from nbs/index.ipynb (its markdown cells); build no site
):
    "Build the documentation site from the notebooks (nbdev processing + MkDocs Material) and check it."
    if readme: print(f"wrote {write_readme()}"); return
    res = build_docs(dest, nbs, execute=execute, n_workers=n_workers, build_dir=build_dir)
    problems = res.problems + check_docs(res.site, nbs)
    for w in res.warnings: print('warning:', w, file=sys.stderr)
    for p in problems: print('problem:', p, file=sys.stderr)
    print(f"{len(res.pages)} pages, {len(problems)} problems, {len(res.warnings)} warnings, {res.seconds:.0f} s "
          f"-> {res.site/'index.html'}")
    if strict and problems: sys.exit(1)
