// Live matrix: when the office's unit receives changes, the table is fetched again from the
// relay (rendered there, already escaped) and put in place. Without JavaScript the page is
// complete; reloading it shows the same.
(function () {
  "use strict";
  // The unit picker's filter: names matched without diacritics, đ as d.
  var filter = document.querySelector(".unit-filter");
  if (filter) {
    var key = function (s) {
      return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐðÐ]/g, "d")
        .replace(/['’]/g, "").toLowerCase().replace(/\s+/g, " ").trim();
    };
    filter.hidden = false;
    var input = filter.querySelector("input");
    var items = document.querySelectorAll(".unit-list li");
    input.addEventListener("input", function () {
      var k = key(input.value);
      for (var i = 0; i < items.length; i++) {
        items[i].hidden = k !== "" && items[i].getAttribute("data-key").indexOf(k) < 0;
      }
    });
  }
})();

(function () {
  "use strict";
  // A contact picked from the unit's people: their title and phone fill the empty fields
  // beside the name.
  var people = document.getElementById("people");
  if (!people) return;
  var names = document.querySelectorAll("input.contact-name");
  for (var i = 0; i < names.length; i++) {
    names[i].addEventListener("change", function (e) {
      var input = e.target;
      var options = people.querySelectorAll("option");
      for (var j = 0; j < options.length; j++) {
        if (options[j].value !== input.value) continue;
        var stem = input.name.replace(/contactname$/, "");
        var fill = { contacttitle: "data-title", contactphone: "data-phone" };
        for (var field in fill) {
          var other = document.getElementById(stem + field);
          if (other && other.value === "") other.value = options[j].getAttribute(fill[field]);
        }
      }
    });
  }
})();

(function () {
  "use strict";
  var box = document.querySelector("[data-live]");
  if (!box || !window.EventSource || !window.fetch) return;
  var status = document.getElementById("live-status");
  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(box.getAttribute("data-live"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.status === 401 || r.status === 303) { window.location.reload(); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (html === null) return;
        // A keyboard user's place survives the refresh: the link or control that had focus in
        // the old table has it again in the new one.
        var focused = document.activeElement;
        var place = focused && box.contains(focused)
          ? (focused.getAttribute("href") ? ["href", focused.getAttribute("href")] : focused.id ? ["id", focused.id] : null)
          : null;
        box.innerHTML = html;
        if (place) {
          var back = place[0] === "href"
            ? box.querySelector('[href="' + CSS.escape(place[1]) + '"]')
            : document.getElementById(place[1]);
          if (back) back.focus();
        }
        if (status) {
          var t = new Date();
          status.textContent = "Đã cập nhật lúc " + t.toLocaleTimeString("vi-VN");
        }
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }
  var events = new EventSource("/desk/events");
  events.addEventListener("changed", refresh);
})();
