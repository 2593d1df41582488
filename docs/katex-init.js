// Render maths with the vendored KaTeX: Sphinx's \( \) and \[ \] spans, and any $ $ / $$ $$ left in outputs
document.addEventListener('DOMContentLoaded', function () {
  renderMathInElement(document.body, {
    delimiters: [
      {left: '$$', right: '$$', display: true}, {left: '\\[', right: '\\]', display: true},
      {left: '\\(', right: '\\)', display: false}, {left: '$', right: '$', display: false}],
    ignoredTags: ['script', 'noscript', 'style', 'textarea', 'pre', 'code', 'option'],
    throwOnError: false});
  document.documentElement.dataset.mathRendered = 'yes';
});
