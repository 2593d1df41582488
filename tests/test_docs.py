"The documentation site, tested like a reader: build it offline, open every page in headless Chromium"
import ast, json, os, re, shutil, subprocess, sys
from pathlib import Path
from urllib.parse import urlparse, unquote
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'docs'))
import build as docs

def test_readme_matches_index():
    "README.md is generated from nbs/index.ipynb (python docs/build.py --readme): the two never drift apart"
    bad = docs.readme_drift()
    assert not bad, f'{", ".join(bad)} differ from what nbs/index.ipynb generates: run `bash run.sh docs` and commit'

def test_sidebar_lists_every_notebook():
    "nbs/sidebar.yml (nbdev's Quarto sidebar, also the offline site's) names every notebook"
    assert not docs.missing_from_sidebar(), f'add {docs.missing_from_sidebar()} to nbs/sidebar.yml'

def _browser():
    if not shutil.which('chromium') or not shutil.which('chromedriver'):
        if os.environ.get('CI') or os.geteuid() == 0: pytest.fail('chromium and chromium-driver are missing: `bash run.sh test` installs them (apt-get)')
        pytest.skip('chromium/chromium-driver not installed and not root (apt-get install chromium chromium-driver)')
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    o = webdriver.ChromeOptions()
    o.binary_location = shutil.which('chromium')
    for a in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--window-size=1400,1000',
              '--proxy-server=http://127.0.0.1:9', '--host-resolver-rules=MAP * ~NOTFOUND',   # nothing leaves the machine
              '--disable-background-networking', '--disable-component-update', '--no-first-run'):
        o.add_argument(a)
    o.set_capability('goog:loggingPrefs', {'performance': 'ALL', 'browser': 'ALL'})
    return webdriver.Chrome(service=Service(shutil.which('chromedriver')), options=o)

@pytest.fixture(scope='module')
def site():
    out = docs.build()
    drv = _browser()
    yield out, drv
    drv.quit()

def _pages(out:Path): return sorted(p for p in out.rglob('*.html') if not p.relative_to(out).parts[0].startswith(('_src', '_static', '_sources')))

def _requests(drv)->list[str]:
    urls = []
    for e in drv.get_log('performance'):
        m = json.loads(e['message'])['message']
        if m['method'] == 'Network.requestWillBeSent': urls.append(m['params']['request']['url'])
    return urls

def _wait(drv, js, secs=10):
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(drv, secs).until(lambda d: d.execute_script(js))

def test_every_page(site):
    "Each page: internal links and images resolve (fragments too), no raw TeX left, no request leaves file://"
    out, drv = site
    problems, ids = [], {}
    for page in _pages(out):
        drv.get(page.as_uri())
        _wait(drv, "return document.readyState == 'complete' && document.documentElement.dataset.mathRendered == 'yes'")
        rel = page.relative_to(out)
        links = drv.execute_script("return [...document.querySelectorAll('a[href]')].map(a => a.href)")
        imgs = drv.execute_script("return [...document.images].map(i => [i.src, i.complete && i.naturalWidth > 0])")
        problems += [f'{rel}: image {s} does not load' for s, ok in imgs if not ok]
        for href in links:
            u = urlparse(href)
            if u.scheme != 'file': continue
            target = Path(unquote(u.path))
            if not target.exists(): problems.append(f'{rel}: link to missing {target}'); continue
            if u.fragment and target.suffix == '.html':
                if target not in ids: ids[target] = set(re.findall(r'\bid="([^"]+)"', target.read_text()))
                if unquote(u.fragment) not in ids[target]: problems.append(f'{rel}: link to missing anchor {target.name}#{u.fragment}')
        text = drv.execute_script("""const b = document.querySelector('article') || document.body; const c = b.cloneNode(true);
            c.querySelectorAll('.katex, pre, code, script, style, .highlight').forEach(e => e.remove()); return c.textContent""")
        for pat in (r'\\\(', r'\\\[', r'\$\$', r'\$[^$\s][^$\n]{0,200}?\$', r'\\(frac|lVert|mathrm|top|lambda)\b'):
            if (m := re.search(pat, text)): problems.append(f'{rel}: raw TeX left in the text: {text[max(0, m.start()-40):m.end()+40]!r}')
        if drv.execute_script("return document.querySelectorAll('.katex-error').length"): problems.append(f'{rel}: KaTeX could not parse some maths')
        for url in _requests(drv):
            if urlparse(url).scheme not in ('file', 'data', 'blob', 'about'): problems.append(f'{rel}: requested {url}')
    assert not problems, '\n'.join(problems[:40])

def test_sidebar_in_notebook_order(site):
    out, drv = site
    drv.get((out/'index.html').as_uri())
    hrefs = drv.execute_script("return [...document.querySelectorAll('nav.bd-links a.reference')].map(a => a.getAttribute('href'))")
    want = [docs.page_of[str(Path(f).with_suffix(''))] + '.html' for _, fs in docs.sidebar() for f in fs if f != 'index.ipynb']
    assert [h.split('#')[0] for h in hrefs] == want
    caps = drv.execute_script("return [...document.querySelectorAll('nav.bd-links .caption-text')].map(e => e.textContent)")
    assert 'Experiment harness' in caps, caps

@pytest.mark.parametrize('word', ['householder', 'merge_hta'])
def test_search(site, word):
    "Sphinx's full-text search works from file:// (no server): it finds the words a reader would look for"
    out, drv = site
    drv.get((out/'search.html').as_uri() + f'?q={word}')
    _wait(drv, "return document.querySelectorAll('#search-results li').length > 0", 20)
    hits = drv.execute_script("return [...document.querySelectorAll('#search-results li a')].map(a => a.getAttribute('href'))")
    assert hits, f'no search results for {word}'

def test_api_entries(site):
    "Every public name in a module's __all__ has its entry (a heading) on the module's page, with a source link"
    out, drv = site
    missing = []
    for nb in docs.notebooks():
        mod = docs.default_exp(json.loads(nb.read_text()))
        if not mod: continue
        f = ROOT/(mod.replace('.', '/') + '.py')
        page = out/(docs.page_of[str(nb.relative_to(docs.NBS).with_suffix(''))] + '.html')
        drv.get(page.as_uri())
        heads = set(drv.execute_script("return [...document.querySelectorAll('h2, h3, h4')].map(h => h.textContent.replace(/#$/, '').trim())"))
        missing += [f'{mod}.{n} (page {page.name})' for n in docs.module_all(f) if n not in heads]
        assert drv.execute_script("return document.querySelectorAll('a.srclink').length") or not docs.module_all(f), page
    assert not missing, 'no API entry for ' + ', '.join(missing)

def test_screenshots(site):
    "The front page and a reference page, saved for a human to look at"
    out, drv = site
    shots = out/'_screenshots'; shots.mkdir(exist_ok=True)
    for name, page in (('index', 'index.html'), ('hta', 'hta.html')):
        drv.get((out/page).as_uri()); _wait(drv, "return document.documentElement.dataset.mathRendered == 'yes'")
        drv.save_screenshot(str(shots/f'{name}.png'))
        assert (shots/f'{name}.png').stat().st_size > 10_000
