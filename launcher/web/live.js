// What a reader set on the page (smoothing, log scales, zoom, scroll
// position) survives a reload: kept per page in sessionStorage. A page
// written by `uda report --watch` reloads itself every few seconds.
'use strict';
const UdaLive = (() => {
  const key = `uda-report:${location.pathname}`;
  const defaults = () => ({ smoothing: 0.6, log: {}, zoom: {}, scroll: 0 });

  function restore() {
    try {
      return { ...defaults(), ...JSON.parse(sessionStorage.getItem(key) || '{}') };
    } catch (e) {
      return defaults();  // storage unavailable or unreadable: start afresh
    }
  }

  function save(state) {
    try {
      sessionStorage.setItem(key, JSON.stringify({ ...state, scroll: window.scrollY }));
    } catch (e) {
      // storage unavailable (a private window): the state is not kept
    }
  }

  function scrollBack(state) {
    if (state.scroll) window.scrollTo(0, state.scroll);
  }

  function reloadEvery(seconds, state) {
    window.setTimeout(() => {
      save(state);
      location.reload();
    }, seconds * 1000);
  }

  return { restore, save, scrollBack, reloadEvery };
})();
