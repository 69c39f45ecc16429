package server

// Chromium exposes the browser lookup of the in-package browser tests to the
// external ones.
var Chromium = chromium
