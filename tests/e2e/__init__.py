"""Browser tests in Chromium; a package, so their module names may repeat the web tests'."""
