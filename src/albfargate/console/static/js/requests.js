// requests.js: (being written)
export function init() {}
export function show() {}
export function hide() {}
