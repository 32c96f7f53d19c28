// Submits the page's form as soon as it loads: what a hostile page does to post a form to
// another origin in the visitor's name. A script file, not inline, so that it also runs
// under a Content-Security-Policy without 'unsafe-inline'.
document.getElementById('forged').submit();
