// Asks before a destructive form posts: a form with data-confirm posts only once the dialog is
// accepted, and then says so with confirm=yes (without JavaScript the server asks on a page).
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
  if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); return; }
  var field = form.querySelector("input[name=confirm]");
  if (!field) {
    field = document.createElement("input");
    field.type = "hidden";
    field.name = "confirm";
    form.appendChild(field);
  }
  field.value = "yes";
});

// Swaps in the fresh <main> of the same URL while the page says it is live (data-live), keeping
// open <details> and what is being typed in forms; stops once the server renders the page as
// no longer live.
(function () {
  var main = document.getElementById("main");
  if (!main || !main.dataset.live) return;
  var delay = Number(main.dataset.live) || 1000;
  // Never swap away a form being filled in: one in focus, or one typed into.
  function busy() {
    var el = document.activeElement;
    if (el && main.contains(el) && /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName)) return true;
    return [].some.call(main.querySelectorAll("input, textarea"), function (f) {
      return f.type !== "hidden" && f.value !== f.defaultValue;
    });
  }
  function tick() {
    if (busy()) { setTimeout(tick, delay); return; }
    fetch(location.href, {headers: {"Accept": "text/html"}, cache: "no-store"})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (text === null) { setTimeout(tick, delay * 3); return; }
        var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("main");
        if (!fresh) return;
        if (!busy() && fresh.innerHTML !== main.innerHTML) {
          var open = {};
          main.querySelectorAll("details[id][open]").forEach(function (d) { open[d.id] = 1; });
          main.innerHTML = fresh.innerHTML;
          main.querySelectorAll("details[id]").forEach(function (d) {
            if (open[d.id]) d.open = true;
          });
        }
        if (fresh.dataset.live) setTimeout(tick, delay);
        else delete main.dataset.live;
      })
      .catch(function () { setTimeout(tick, delay * 3); });
  }
  setTimeout(tick, delay);
})();
