"""Build the documentation site offline: nbdev's processed notebooks → Sphinx + myst-nb → `_docs/`.

    python docs/build.py              # the site in _docs/ (entry page _docs/index.html), and README.md
    python docs/build.py --readme     # only README.md (and its figures) from nbs/index.ipynb
    python docs/build.py --check      # fail if README.md is not what nbs/index.ipynb generates

nbdev's own way (`nbdev-docs`, Quarto) keeps working where Quarto exists; this script needs none: it runs nbdev's
notebook processors (show_doc entries expanded, hidden cells dropped), translates what only Quarto understands
(YAML front matter, callouts, `#|` cell options, Pandoc attributes), adds a link from every API entry to its
source rendered into the site, and vendors KaTeX from npm (cached) so the built site makes no network request.
"""
import argparse, ast, base64, json, os, re, shutil, subprocess, sys, tarfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS, PROC, OUT = ROOT/'nbs', ROOT/'_proc', ROOT/'_docs'
STAGE = PROC/'_sphinx'                         # myst-nb sources, translated from _proc
KATEX = 'katex@0.16.22'                        # npm, fetched once into the cache at build time
CACHE = Path(os.environ.get('HSVD_NB_CACHE', Path.home()/'.cache'/'hsvd-nb'))
README_IMG = 'index_files'                     # README figures, relative to the repo root (nbdev's layout)
SECTIONS = ('Guide', 'Tutorials', 'Experiment harness')

# ---------------------------------------------------------------- notebooks and the sidebar
def notebooks()->list[Path]:
    "Every notebook under nbs/ (subfolders too), skipping `_`/`.` names"
    return sorted(p for p in NBS.rglob('*.ipynb') if not any(s.startswith(('_', '.')) for s in p.relative_to(NBS).parts))

def sidebar()->list[tuple[str, list[str]]]:
    "(section, notebooks relative to nbs/) in `nbs/sidebar.yml` order; notebooks it does not list are appended"
    import yaml
    items = (yaml.safe_load((NBS/'sidebar.yml').read_text()) or {}).get('website', {}).get('sidebar', {}).get('contents', [])
    secs, listed = [('', [])], set()
    def walk(xs, sec):
        for x in xs:
            if isinstance(x, dict) and 'section' in x: secs.append((x['section'], [])); walk(x.get('contents', []), len(secs)-1)
            else:
                f = x if isinstance(x, str) else x.get('href', '')
                if f.endswith('.ipynb') and (NBS/f).exists(): secs[sec][1].append(f); listed.add(f)
    walk(items, 0)
    missing = [str(p.relative_to(NBS)) for p in notebooks() if str(p.relative_to(NBS)) not in listed]
    if missing: secs.append(('More', missing))
    return [s for s in secs if s[1]]

def missing_from_sidebar()->list[str]:
    return next((fs for s, fs in sidebar() if s == 'More'), [])

# ---------------------------------------------------------------- nbdev's processing, tolerant of one bad cell
def _proc_one(args):
    src, dst = map(Path, args)
    os.chdir(ROOT); os.environ['IN_TEST'] = '1'; os.environ.setdefault('HF_HUB_OFFLINE', '1')
    import warnings; warnings.filterwarnings('ignore')
    from nbdev.processors import FilterDefaults, exec_show_docs
    from nbdev.serve_drv import exec_nb
    errs, mod = [], default_exp(json.loads(src.read_text()))
    class show_docs_only(exec_show_docs):
        """nbdev's exec_show_docs, but the names come from the exported module (imported once) and only show_doc
        cells run: no notebook code is re-executed, and a failing show_doc is reported, not fatal"""
        def begin(self):
            super().begin()
            if mod:
                import importlib, typing
                self.k.user_ns.update({k: getattr(typing, k) for k in typing.__all__})   # names in string annotations
                self.k.user_ns.update({k: v for k, v in vars(importlib.import_module(mod)).items() if not k.startswith('__')})
        def __call__(self, cell):
            if not self.nb.has_docs_ or not hasattr(self, 'k') or cell.cell_type != 'code' or 'show_doc(' not in cell.source: return
            self.k.cell(cell)
            if (e := self.k.exc): errs.append(f'{cell.source.strip().splitlines()[-1][:80]}: {type(e).__name__}: {e}'); self.k.exc = None
    show_docs_only.__name__ = 'exec_show_docs'
    class Procs(FilterDefaults):
        def base_procs(self): return [show_docs_only if p is exec_show_docs else p for p in super().base_procs()]
    dst.parent.mkdir(parents=True, exist_ok=True)
    exec_nb(src, dst, Procs)
    return str(src.relative_to(NBS)), errs

def process(force=False):
    "nbs/*.ipynb → _proc/*.ipynb with nbdev's processors (only notebooks changed since their last processing)"
    todo = []
    stamp = max(Path(__file__).stat().st_mtime, (ROOT/'pyproject.toml').stat().st_mtime)
    for p in notebooks():
        d = PROC/p.relative_to(NBS)
        if force or not d.exists() or d.stat().st_mtime < max(p.stat().st_mtime, stamp): todo.append((str(p), str(d)))
    if not todo: return
    env, cwd = dict(os.environ), os.getcwd()   # _proc_one sets IN_TEST and the cwd as nbdev expects: not for our caller
    try:
        for t in todo:      # one interpreter: the package and torch are imported once for all notebooks
            name, errs = _proc_one(t)
            for e in errs: print(f'docs: {name}: show_doc processing skipped a failing cell: {e}', file=sys.stderr)
    finally:
        os.environ.clear(); os.environ.update(env); os.chdir(cwd)

# ---------------------------------------------------------------- translating what only Quarto understands
CALLOUT = {'note': 'note', 'tip': 'tip', 'warning': 'warning', 'important': 'important', 'caution': 'caution'}

def quarto_md(text:str)->str:
    "Quarto/Pandoc markdown → MyST: callouts to admonitions, other fenced divs dropped, attributes removed"
    out, stack = [], []
    for line in text.split('\n'):
        m = re.match(r'^(:{3,})\s*\{([^}]*)\}\s*$', line)
        if m:
            kind = re.search(r'\.callout-(\w+)', m[2]); title = re.search(r'title="([^"]*)"', m[2])
            if kind:
                stack.append(True)
                out.append(f':::{{admonition}} {title[1]}\n:class: {CALLOUT.get(kind[1], "note")}' if title
                           else f':::{{{CALLOUT.get(kind[1], "note")}}}')
            else: stack.append(False)
            continue
        if re.match(r'^:{3,}\s*$', line) and stack:
            if stack.pop(): out.append(':::')
            continue
        line = re.sub(r'(\]\([^)\s]*(?:\s+"[^"]*")?\))\{[^}]*\}', r'\1', line)   # [x](url){target="_blank"}
        line = re.sub(r'^(#+ .*?)\s*\{[#.][^}]*\}\s*$', r'\1', line)             # ## Heading {#id .unnumbered}
        out.append(line)
    return '\n'.join(out)

def cell_opts(src:str)->tuple[dict, str]:
    "Quarto `#| key: value` options at the top of a code cell, and the source without them"
    opts, lines = {}, src.split('\n')
    while lines and lines[0].startswith('#|'):
        k, _, v = lines.pop(0)[2:].strip().partition(':'); opts[k.strip()] = v.strip() or 'true'
    return opts, '\n'.join(lines)

def _src(x): return ''.join(x) if isinstance(x, list) else x

class Source:
    "Line numbers of the package's definitions, from the modules' source"
    def __init__(self):
        self.lines, self.mods = {}, {}
        for f in sorted((ROOT/'hsvd_nb').rglob('*.py')):
            if '__pycache__' in f.parts: continue
            mod = '.'.join(f.relative_to(ROOT).with_suffix('').parts)
            self.mods[mod] = f
            for n in ast.parse(f.read_text()).body:
                for name in _names(n):
                    self.lines.setdefault(name, (mod, n.lineno)); self.lines[f'{mod}.{name}'] = (mod, n.lineno)
                if isinstance(n, ast.ClassDef):
                    for m in n.body:
                        for name in _names(m): self.lines.setdefault(f'{n.name}.{name}', (mod, m.lineno)); self.lines[f'{mod}.{n.name}.{name}'] = (mod, m.lineno)
    def find(self, name, mod=None): return self.lines.get(f'{mod}.{name}') or self.lines.get(name)
    def page(self, mod): return f'_src/{mod}.py.html'

def _names(n):
    if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): return [n.name]
    if isinstance(n, ast.Assign): return [t.id for t in n.targets if isinstance(t, ast.Name)]
    if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name): return [n.target.id]
    return []

def module_all(path:Path)->list[str]:
    for n in ast.parse(path.read_text()).body:
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == '__all__' for t in n.targets):
            return list(ast.literal_eval(n.value))
    return []

def default_exp(nb:dict)->str|None:
    for c in nb['cells']:
        m = re.search(r'^#\|\s*default_exp\s+(\S+)', _src(c['source']), re.M)
        if m: return 'hsvd_nb.' + m[1]
    return None

def api_entry(name, mod, src:Source, up:str)->str:
    "Markdown for a `__all__` name that has no show_doc entry (constants, aliases): its definition and source"
    m, line = src.find(name, mod) or (None, None)
    if m is None: return f'### {name}\n'
    text = src.mods[m].read_text().split('\n')
    node = next(n for n in ast.parse('\n'.join(text)).body if name in _names(n))
    code = '\n'.join(text[node.lineno-1:node.end_lineno])
    if len(code) > 600: code = '\n'.join(code[:600].split('\n')[:-1]) + '\n...'
    return f'### {name}\n\n<a class="srclink" href="{up}{src.page(m)}#L-{line}">source</a>\n\n```python\n{code}\n```\n'

def page_name(p:Path)->str:
    "The page a notebook becomes: nbdev's output-file (the module name) or the notebook's name"
    import yaml
    rel, d = p.relative_to(NBS), PROC/p.relative_to(NBS)
    c = json.loads(d.read_text())['cells'][0] if d.exists() else {}
    s = _src(c.get('source', ''))
    fm = (yaml.safe_load(s.strip().strip('-')) or {}) if c.get('cell_type') == 'raw' and s.lstrip().startswith('---') else {}
    return str(rel.parent/Path(fm['output-file']).stem) if fm.get('output-file') else str(rel.with_suffix(''))

def doc_links(md:str, depth:int)->str:
    "nbdev's links between pages (`/inject.html#x`, `01_hta.ipynb#x`) as relative links to the pages Sphinx writes"
    up = '../'*depth
    def site(m):
        text = f'<code>{m[2]}</code>' if m[1] else m[2]
        return f'<a href="{up}{m[3]}{m[4] or ""}">{text}</a>'
    md = re.sub(r'\[(`?)([^\]`]+)\1\]\(/([\w/.-]+\.html)(#[^)\s]*)?\)', site, md)
    def nb(m):
        page = page_of.get(str(Path(m[2]).with_suffix('')))
        return f'{m[1]}({up}{page}.ipynb{m[3] or ""})' if page else m[0]
    return re.sub(r'(\[[^\]]*\])\(([\w/.-]+)\.ipynb(#[^)\s]*)?\)', nb, md)

def stage_nb(p:Path, src:Source, copied:set)->str:
    "Translate one processed notebook for myst-nb; return its page name (nbdev's output-file)"
    import yaml
    rel = p.relative_to(NBS)
    nb = json.loads((PROC/rel).read_text()) if (PROC/rel).exists() else json.loads(p.read_text())
    mod = default_exp(json.loads(p.read_text()))
    page = rel.with_suffix('')
    cells, fm, title = [], {}, None
    for c in nb['cells']:
        s = _src(c['source'])
        if c['cell_type'] == 'raw' and s.lstrip().startswith('---'):
            fm = yaml.safe_load(s.strip().strip('-')) or {}; continue
        if c['cell_type'] == 'raw': continue
        if c['cell_type'] == 'markdown':
            if 'AUTOGENERATED! DO NOT EDIT' in s: continue
            if title is None and re.match(r'#\s', s): title = s                 # unprocessed notebook: keeps its title
            c = dict(cell_type='markdown', metadata={}, source=doc_links(quarto_md(s), len(rel.parts)-1)); cells.append(c); continue
        opts, code = cell_opts(s)
        if opts.get('include') == 'false' or 'hide' in opts: continue
        tags = [t for t in c.get('metadata', {}).get('tags', [])]
        if opts.get('echo') == 'false': tags.append('remove-input')
        if opts.get('output') == 'false': tags.append('remove-output')
        outs = []
        for o in c.get('outputs', []):
            o = {k: v for k, v in o.items() if k != 'metadata' or o['output_type'] != 'stream'}
            if 'data' in o and 'text/markdown' in o['data']:
                md = re.sub(r'^\s*---\s*\n', '', _src(o['data']['text/markdown']))          # show_doc's leading rule
                md = re.sub(r'\[source\]\([^)]*\)(\{[^}]*\})?', '', md)                      # nbdev's link to a git host
                md = doc_links(source_links(quarto_md(md), mod, src, '../'*(len(rel.parts)-1)), len(rel.parts)-1)
                o['data'] = {**o['data'], 'text/markdown': md}
            if o['output_type'] == 'execute_result': o.setdefault('execution_count', None)
            outs.append(o)
        if not code.strip() and not outs: continue
        if 'remove-input' in tags and outs and all('text/markdown' in o.get('data', {}) for o in outs):
            # show_doc entries become page markdown, so their headings are sections in the page's contents
            cells.append(dict(cell_type='markdown', metadata={}, source='\n\n'.join(_src(o['data']['text/markdown']) for o in outs))); continue
        cells.append(dict(cell_type='code', execution_count=None, metadata={'tags': tags} if tags else {}, outputs=outs, source=code))
    page = Path(page_of[str(rel.with_suffix(''))])
    if fm.get('title'):
        head = f"# {fm['title']}\n\n" + (f"> {fm['description']}\n" if fm.get('description') else '')
        cells.insert(0, dict(cell_type='markdown', metadata={}, source=head))
    # every name in the module's __all__ gets an entry: show_doc's, or its definition from the source
    if mod and mod in src.mods:
        shown = set(re.findall(r'^###\s+(\S+)', '\n'.join(_src(o.get('data', {}).get('text/markdown', ''))
                    for c in cells if c['cell_type'] == 'code' for o in c['outputs']), re.M))
        shown |= set(re.findall(r'^###\s+(\S+)', '\n'.join(c['source'] for c in cells if c['cell_type'] == 'markdown'), re.M))
        rest = [n for n in module_all(src.mods[mod]) if n not in shown]
        if rest:
            up = '../'*(len(rel.parts)-1)
            cells.append(dict(cell_type='markdown', metadata={}, source='## Other exported names\n\n' + '\n'.join(api_entry(n, mod, src, up) for n in rest)))
    for c in cells:
        if c['cell_type'] == 'markdown': c['source'] = repo_links(c['source'], copied, len(rel.parts)-1)
    nb = dict(cells=cells, nbformat=4, nbformat_minor=5, metadata={
        'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'},
        'language_info': {'name': 'python', 'pygments_lexer': 'ipython3'}})
    dst = STAGE/page.with_suffix('.ipynb'); dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(json.dumps(nb, indent=1))
    return str(page)

def source_links(md:str, mod, src:Source, up:str)->str:
    "After each show_doc heading, a link to the definition in the module source rendered into the site"
    def add(m):
        hit = src.find(m[2], mod)
        return m[0] if not hit else f'{m[0]}\n\n<a class="srclink" href="{up}{src.page(hit[0])}#L-{hit[1]}">source</a>'
    return re.sub(r'^(#{2,4})\s+(\S+)\s*$', add, md, flags=re.M)

def repo_links(md:str, copied:set, depth:int)->str:
    "Links and images to repository files (`../results/x.png` from nbs/) point at copies inside the site"
    def fix(m):
        target = m[2]
        if not target.startswith('../'*(depth+1)) or '://' in target: return m[0]
        path = target[3*(depth+1):].split('#')[0]
        text = re.sub(r'^!?\[`?(.*?)`?\]$', r'\1', m[1]); code = '`' in m[1]
        if path.startswith('_docs/'): href = f'{"../"*depth}{target[3*(depth+1)+6:]}'
        elif (ROOT/path).is_file(): copied.add(path); return f'{m[1]}({"../"*depth}_repo/{path})'
        else: return m[1][1:-1] if not m[1].startswith('!') else m[0]          # a folder: the text alone
        return f'<a href="{href}">' + (f'<code>{text}</code>' if code else text) + '</a>'
    return re.sub(r'(!?\[[^\]]*\])\(([^)\s]+)\)', fix, md)

def toctree(secs, index_page='index')->str:
    out = []
    for name, files in secs:
        pages = [str(Path(f).with_suffix('')) for f in files]
        pages = [page_of[p] for p in pages if page_of.get(p) and page_of[p] != index_page]
        if pages: out.append('```{toctree}\n:hidden:\n' + (f':caption: {name}\n' if name else '') + '\n'.join(pages) + '\n```')
    return '\n\n'.join(out)

page_of = {}

# ---------------------------------------------------------------- assets: KaTeX from npm, module sources
def katex(dst:Path):
    "KaTeX's dist (JS, CSS, fonts, auto-render) from the npm tarball, cached under HSVD_NB_CACHE/npm"
    cache = CACHE/'npm'; cache.mkdir(parents=True, exist_ok=True)
    tgz = cache/(KATEX.replace('@', '-') + '.tgz')
    if not tgz.exists():
        subprocess.run(['npm', 'pack', KATEX, '--pack-destination', str(cache), '--silent'], check=True, stdout=subprocess.DEVNULL)
    with tarfile.open(tgz) as t:
        for m in t.getmembers():
            n = m.name.removeprefix('package/dist/')
            if m.isfile() and n != m.name and (n in ('katex.min.js', 'katex.min.css', 'contrib/auto-render.min.js') or n.startswith('fonts/')):
                (dst/n).parent.mkdir(parents=True, exist_ok=True); (dst/n).write_bytes(t.extractfile(m).read())

def render_sources(src:Source, out:Path):
    "Each module as a highlighted page with an anchor per line (`#L-12`), linked from the API entries"
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer
    fmt = HtmlFormatter(linenos='table', lineanchors='L', anchorlinenos=True, cssclass='highlight')
    css = fmt.get_style_defs('.highlight') + '\nbody{font-family:system-ui,sans-serif;margin:1.5rem}pre{font-size:13px;line-height:1.4}' \
          '.linenos a{color:#999;text-decoration:none}'
    for mod, f in src.mods.items():
        page = out/src.page(mod); page.parent.mkdir(parents=True, exist_ok=True)
        body = highlight(f.read_text(), PythonLexer(), fmt)
        page.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{mod} source</title><style>{css}</style></head>'
                        f'<body><p><a href="../index.html">hsvd-nb</a> · <code>{f.relative_to(ROOT)}</code></p>{body}</body></html>')

# ---------------------------------------------------------------- the site
def build(force=False)->Path:
    t0 = time.time()
    process(force)
    t1 = time.time()
    if STAGE.exists(): shutil.rmtree(STAGE)
    (STAGE/'_static').mkdir(parents=True)
    src, copied = Source(), set()
    secs = sidebar()
    for p in notebooks(): page_of[str(p.relative_to(NBS).with_suffix(''))] = page_name(p)
    for p in notebooks(): stage_nb(p, src, copied)
    if 'index' not in page_of.values(): (STAGE/'index.md').write_text('# hsvd-nb\n')
    idx = STAGE/('index.ipynb' if (STAGE/'index.ipynb').exists() else 'index.md')
    if idx.suffix == '.ipynb':
        nb = json.loads(idx.read_text()); nb['cells'].append(dict(cell_type='markdown', metadata={}, source=toctree(secs)))
        idx.write_text(json.dumps(nb, indent=1))
    else: idx.write_text(idx.read_text() + '\n' + toctree(secs))
    for f in copied: (STAGE/'_repo'/f).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(ROOT/f, STAGE/'_repo'/f)
    katex(STAGE/'_static'/'katex')
    shutil.copy2(Path(__file__).parent/'katex-init.js', STAGE/'_static')
    shutil.copy2(Path(__file__).parent/'custom.css', STAGE/'_static')
    if OUT.exists(): shutil.rmtree(OUT)
    from sphinx.cmd.build import build_main
    rc = build_main(['-b', 'html', '-q', '-c', str(Path(__file__).parent), '-d', str(PROC/'_doctrees'), str(STAGE), str(OUT)])
    if rc: sys.exit(f'docs: sphinx failed ({rc})')
    shutil.rmtree(ROOT/'jupyter_execute', ignore_errors=True)     # myst-nb's copy of the notebooks, not needed
    render_sources(src, OUT)
    (OUT/'.nojekyll').touch()
    print(f'docs: {len(page_of)} pages in {OUT.relative_to(ROOT)}/ (entry page {OUT.relative_to(ROOT)}/index.html): '
          f'nbdev processing {t1-t0:.0f} s, site {time.time()-t1:.0f} s')
    if (m := missing_from_sidebar()): print(f'docs: nbs/sidebar.yml does not list {", ".join(m)} (shown under "More")', file=sys.stderr)
    return OUT

# ---------------------------------------------------------------- README.md from nbs/index.ipynb
def readme()->tuple[str, dict[str, bytes]]:
    "GitHub markdown of nbs/index.ipynb and its figures ({path relative to the repo: bytes})"
    nb = json.loads((NBS/'index.ipynb').read_text())
    parts, files = ['<!-- WARNING: THIS FILE WAS AUTOGENERATED from nbs/index.ipynb by docs/build.py! DO NOT EDIT! -->'], {}
    for i, c in enumerate(nb['cells']):
        s = _src(c['source'])
        if c['cell_type'] == 'raw': continue
        if c['cell_type'] == 'markdown': parts.append(gfm(s)); continue
        opts, code = cell_opts(s)
        if opts.get('include') == 'false' or 'hide' in opts or 'default_exp' in opts: continue
        if opts.get('echo') != 'false' and code.strip(): parts.append(f'```python\n{code.strip()}\n```')
        if opts.get('output') == 'false': continue
        for j, o in enumerate(c.get('outputs', [])):
            d = o.get('data', {})
            if o['output_type'] == 'stream': parts.append(f"```\n{_src(o['text']).rstrip()}\n```")
            elif 'image/png' in d:
                f = f'{README_IMG}/figure-commonmark/cell-{i}-output-{j}.png'
                files[f] = base64.b64decode(_src(d['image/png'])); parts.append(f'![]({f})')
            elif 'text/markdown' in d: parts.append(gfm(_src(d['text/markdown'])))
            elif 'text/html' in d: parts.append(_src(d['text/html']).strip())
            elif 'text/plain' in d: parts.append(f"```\n{_src(d['text/plain']).rstrip()}\n```")
    return '\n\n'.join(parts) + '\n', files

def gfm(md:str)->str:
    "Notebook markdown → GitHub markdown: links relative to the repo, callouts as GitHub alerts"
    md = re.sub(r'(!?\[[^\]]*\])\(\.\./([^)\s]+)\)', r'\1(\2)', md)
    md = re.sub(r'(\]\()([\w-]+\.ipynb(?:#[^)\s]*)?\))', r'\1nbs/\2', md)   # sibling notebooks live in nbs/
    md = re.sub(r'^:::+\s*\{\.callout-(\w+)[^}]*\}\s*\n(.*?)\n:::+\s*$',
                lambda m: f'> [!{m[1].upper()}]\n' + '\n'.join('> ' + l for l in m[2].split('\n')), md, flags=re.M|re.S)
    return re.sub(r'(\]\([^)\s]*\))\{[^}]*\}', r'\1', md)

def write_readme():
    text, files = readme()
    shutil.rmtree(ROOT/README_IMG, ignore_errors=True)
    for f, b in files.items(): (ROOT/f).parent.mkdir(parents=True, exist_ok=True); (ROOT/f).write_bytes(b)
    (ROOT/'README.md').write_text(text)

def readme_drift()->list[str]:
    "What differs between README.md (and its figures) and what nbs/index.ipynb generates"
    text, files = readme()
    bad = [] if (ROOT/'README.md').exists() and (ROOT/'README.md').read_text() == text else ['README.md']
    bad += [f for f, b in files.items() if not (ROOT/f).exists() or (ROOT/f).read_bytes() != b]
    return bad

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--readme', action='store_true', help='only write README.md from nbs/index.ipynb')
    ap.add_argument('--check', action='store_true', help='fail if README.md differs from what nbs/index.ipynb generates')
    ap.add_argument('--force', action='store_true', help='reprocess every notebook')
    ap.add_argument('--proc-one', nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.proc_one:
        name, errs = _proc_one(a.proc_one)
        for e in errs: print(f'docs: {name}: show_doc processing skipped a failing cell: {e}')
    elif a.check:
        if (bad := readme_drift()): sys.exit(f'{", ".join(bad)} out of date with nbs/index.ipynb: run `bash run.sh docs` (or python docs/build.py --readme)')
    elif a.readme: write_readme()
    else: build(a.force); write_readme()
