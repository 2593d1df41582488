"Sphinx configuration for the offline site (driven by docs/build.py; sources staged in _proc/_sphinx)"
project = 'hsvd-nb'
author = 'hsvd-nb developers'
extensions = ['myst_nb']
myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence', 'html_image']
myst_heading_anchors = 4
nb_execution_mode = 'off'                # pages show the outputs saved in the notebooks
nb_render_markdown_format = 'myst'       # show_doc's markdown outputs get maths and fences
nb_merge_streams = True
exclude_patterns = ['_build', '**.ipynb_checkpoints']
suppress_warnings = ['myst.header', 'misc.highlighting_failure', 'mystnb.unknown_mime_type', 'toc.not_included']
html_theme = 'sphinx_book_theme'
html_title = 'hsvd-nb'
import os
html_static_path = [os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '_proc', '_sphinx', '_static')]
html_css_files = ['katex/katex.min.css', 'custom.css']
html_js_files = ['katex/katex.min.js', 'katex/contrib/auto-render.min.js', 'katex-init.js']
html_theme_options = {'show_toc_level': 3, 'use_download_button': False, 'use_fullscreen_button': False,
                      'navigation_with_keys': False, 'show_navbar_depth': 1}
html_math_renderer = 'katex_offline'
html_copy_source = False
html_show_sourcelink = False

def setup(app):
    # maths leaves Sphinx as \( \) and \[ \] (as for MathJax) and KaTeX, vendored into _static, renders it offline
    from sphinx.ext.mathjax import html_visit_math, html_visit_displaymath
    app.add_html_math_renderer('katex_offline', (html_visit_math, None), (html_visit_displaymath, None))
