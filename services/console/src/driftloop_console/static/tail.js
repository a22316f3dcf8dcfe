// The events page's live tail: every 2 s, fetch the rows for the same filters and swap them
// in. No framework: the console's only script (CSP: script-src 'self').
(function () {
  var rows = document.getElementById("rows");
  var live = document.getElementById("live");
  if (!rows) return;
  var query = window.location.search;
  function refresh() {
    if (document.hidden) return;
    fetch("/events/rows" + query, { credentials: "same-origin" })
      .then(function (answer) { if (!answer.ok) throw new Error(answer.status); return answer.text(); })
      .then(function (html) { rows.innerHTML = html; live.textContent = "live"; live.className = "live"; })
      .catch(function () { live.textContent = "paused: console unreachable"; live.className = "live paused"; });
  }
  setInterval(refresh, 2000);
})();
