// The stocktake scanning page (盘点扫码): a wedge scanner or the keyboard types a code and
// Enter, or the camera (html5-qrcode, served from static/vendor) reads a label. Each scan is
// POSTed with an id generated here; a retry after a network error sends the same id, so the
// server counts it once. The answer is shown big and coloured, with a short vibration.
(function () {
  "use strict";

  var form = document.getElementById("scan-form");
  if (!form) return;
  var d = form.dataset;
  var codeInput = document.getElementById("scan-code");
  var locationSelect = document.getElementById("scan-location");
  var resultBox = document.getElementById("scan-result");
  var recent = document.getElementById("recent-scans");
  var holderForm = document.getElementById("holder-form");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var RETRIES = 3;
  var COLOURS = ["success", "warning", "info", "secondary", "primary", "danger"];
  var VIBRATE = {
    found: [60],
    location_mismatch: [60, 80, 60],
    holder_mismatch: [60, 80, 60],
    duplicate: [30, 60, 30],
    unexpected: [200],
    unknown: [200, 100, 200],
    error: [400],
  };
  var busy = false;
  var queue = [];

  // --- ids: crypto.randomUUID needs a secure context; getRandomValues works everywhere ---
  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); });
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") +
      "-" + h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }

  // --- location chosen once, remembered on this phone ---------------------------------------
  try {
    var saved = localStorage.getItem(d.storageKey);
    if (!locationSelect.value && saved && locationSelect.querySelector('option[value="' + saved + '"]')) {
      locationSelect.value = saved;
    }
  } catch (e) { /* private mode: no storage */ }
  locationSelect.addEventListener("change", function () {
    try { localStorage.setItem(d.storageKey, locationSelect.value); } catch (e) { /* ignore */ }
    codeInput.focus();
  });

  // --- showing a result ----------------------------------------------------------------------
  function show(kind, colour, label, asset, message) {
    COLOURS.forEach(function (c) { resultBox.classList.remove("text-bg-" + c); });
    resultBox.classList.remove("bg-body-tertiary", "text-body-secondary");
    resultBox.classList.add("text-bg-" + colour);
    resultBox.dataset.result = kind;
    resultBox.replaceChildren();
    var big = document.createElement("div");
    big.className = "scan-label";
    big.textContent = label;
    resultBox.appendChild(big);
    if (asset) {
      var a = document.createElement("div");
      a.className = "scan-asset font-monospace";
      a.textContent = asset;
      resultBox.appendChild(a);
    }
    var m = document.createElement("div");
    m.className = "scan-message small";
    m.textContent = message || "";
    resultBox.appendChild(m);
    if (navigator.vibrate) {
      try { navigator.vibrate(VIBRATE[kind] || [60]); } catch (e) { /* not allowed */ }
    }
  }

  function remember(code, name, label, colour) {
    if (!recent) return;
    var li = document.createElement("li");
    li.className = "list-group-item d-flex justify-content-between align-items-start";
    var span = document.createElement("span");
    span.className = "ms-2 me-auto font-monospace text-break";
    span.textContent = code + (name ? " " + name : "");
    var badge = document.createElement("span");
    badge.className = "badge text-bg-" + colour;
    badge.textContent = label;
    li.append(span, badge);
    recent.prepend(li);
    while (recent.children.length > 20) recent.lastElementChild.remove();
  }

  function offerHolder(data) {
    if (!holderForm) return;
    var canConfirm = data.line && ["found", "holder_mismatch", "location_mismatch", "unexpected"].indexOf(data.result) >= 0;
    holderForm.hidden = !canConfirm;
    if (canConfirm) holderForm.elements.line.value = data.line;
  }

  // --- sending -------------------------------------------------------------------------------
  function post(url, body, attempt) {
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, Accept: "application/json" },
    }).then(function (response) {
      if (response.status >= 500 && attempt < RETRIES) throw new Error("server " + response.status);
      return response.json().then(function (data) { return { status: response.status, data: data }; });
    }).catch(function (err) {
      if (attempt >= RETRIES) throw err;
      show("error", "secondary", "…", "", d.msgNetwork);
      return new Promise(function (resolve) { setTimeout(resolve, 400 * Math.pow(2, attempt)); })
        .then(function () { return post(url, body, attempt + 1); });
    });
  }

  function takeExtras(body) {
    ["holder", "note"].forEach(function (name) {
      var el = form.elements[name];
      if (el && el.value.trim()) body.append(name, el.value.trim());
    });
    var photo = form.elements.photo;
    if (photo && photo.files && photo.files[0]) body.append("photo", photo.files[0]);
  }

  function clearExtras() {
    ["holder", "note", "photo"].forEach(function (name) {
      if (form.elements[name]) form.elements[name].value = "";
    });
  }

  function send(code) {
    if (!locationSelect.value) {
      show("error", "danger", d.msgError, "", d.msgLocation);
      locationSelect.focus();
      return Promise.resolve();
    }
    // Small urlencoded bodies; multipart only when a photo goes along.
    var photo = form.elements.photo;
    var withPhoto = photo && photo.files && photo.files.length;
    var body = withPhoto ? new FormData() : new URLSearchParams();
    body.append("scan_id", uuid4()); // one id per scan, reused by every retry of it
    body.append("code", code);
    body.append("location", locationSelect.value);
    takeExtras(body);
    clearExtras();
    return post(d.url, body, 0).then(function (reply) {
      var data = reply.data || {};
      if (data.error) {
        show("error", "danger", d.msgError, code, data.error);
        offerHolder({});
        return;
      }
      var asset = (data.tag || code) + (data.name ? " " + data.name : "");
      show(data.result, data.colour, data.label, asset, data.message);
      remember(data.tag || code, data.name, data.label, data.colour);
      offerHolder(data);
    }).catch(function () {
      show("error", "danger", d.msgError, code, d.msgFailed);
    });
  }

  // Scans are sent one after another, in the order they were made.
  function pump() {
    if (busy || !queue.length) return;
    busy = true;
    send(queue.shift()).then(function () { busy = false; pump(); });
  }

  function enqueue(code) {
    code = (code || "").trim();
    if (!code) return;
    queue.push(code);
    pump();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var code = codeInput.value;
    codeInput.value = "";
    codeInput.focus();
    enqueue(code);
  });

  if (holderForm) {
    holderForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = new FormData(holderForm);
      post(d.holderUrl, body, 0).then(function (reply) {
        var data = reply.data || {};
        if (data.error) {
          show("error", "danger", d.msgError, "", data.error);
          return;
        }
        show(data.result, data.colour, data.label, "", data.message);
        holderForm.hidden = true;
        holderForm.reset();
        codeInput.focus();
      }).catch(function () { show("error", "danger", d.msgError, "", d.msgFailed); });
    });
  }

  // --- camera ---------------------------------------------------------------------------------
  var toggle = document.getElementById("scan-camera-toggle");
  var cameraBox = document.getElementById("scan-camera");
  var cameraMessage = document.getElementById("scan-camera-message");
  var scanner = null;
  var lastCode = "";
  var lastAt = 0;

  function cameraNote(text) {
    cameraMessage.textContent = text;
    cameraMessage.hidden = !text;
  }

  var cameraPossible = window.isSecureContext && navigator.mediaDevices &&
    navigator.mediaDevices.getUserMedia && typeof window.Html5Qrcode === "function";
  if (toggle) {
    toggle.hidden = false;
    if (!cameraPossible) {
      toggle.disabled = true;
      cameraNote(d.msgNoCamera);
    }
    toggle.addEventListener("click", function () {
      if (scanner) {
        scanner.stop().catch(function () {}).then(function () {
          scanner = null;
          cameraBox.hidden = true;
          toggle.querySelector("span").textContent = d.labelStart;
        });
        return;
      }
      cameraBox.hidden = false;
      scanner = new window.Html5Qrcode("scan-camera");
      scanner.start(
        { facingMode: "environment" },
        { fps: 10, qrbox: { width: 240, height: 240 } },
        function (text) {
          // The camera reads a label many times a second: one scan per label per 3 s.
          var now = Date.now();
          if (text === lastCode && now - lastAt < 3000) return;
          lastCode = text;
          lastAt = now;
          enqueue(text);
        },
        function () { /* no code in this frame */ }
      ).then(function () {
        toggle.querySelector("span").textContent = d.labelStop;
        cameraNote("");
      }).catch(function (err) {
        scanner = null;
        cameraBox.hidden = true;
        cameraNote(d.msgCameraError + " " + err);
      });
    });
  }
})();
