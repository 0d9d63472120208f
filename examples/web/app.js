// mediakit demo page: vanilla JS, no build step, relative URLs only (works behind any prefix
// and from both reference servers). The bearer token lives in localStorage; media bytes are
// fetched from the presigned/signed URLs the API hands out, which need no token.
"use strict";

(function () {
  const API = "api/v1/";
  const TOKEN_KEY = "mediakit.token";
  const POLL_MS = 1000;
  const $ = (sel, root = document) => root.querySelector(sel);
  const audio = $("#audio");

  const state = {
    token: localStorage.getItem(TOKEN_KEY) || "",
    admin: false,
    galleryCursor: null,
    current: null, // {setId, trackId, title}
    polls: new Map(),
    adminPending: false,
    uploadQueue: Promise.resolve(),
  };

  // ---------------------------------------------------------------- helpers
  function setStatus(text, isError = false) {
    const el = $("#status");
    el.textContent = text;
    el.classList.toggle("error", isError);
  }

  async function api(path, options = {}) {
    const headers = Object.assign({}, options.headers || {});
    if (state.token) headers["Authorization"] = "Bearer " + state.token;
    let body = options.body;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    const resp = await fetch(API + path, { method: options.method || "GET", headers, body });
    if (resp.status === 204) return null;
    let data = null;
    try {
      data = await resp.json();
    } catch (e) {
      data = null;
    }
    if (!resp.ok) {
      const message = (data && data.error && data.error.message) || resp.status + " " + resp.statusText;
      const err = new Error(message);
      err.status = resp.status;
      err.code = data && data.error && data.error.code;
      throw err;
    }
    return data;
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c) node.append(c);
    return node;
  }

  function formatBytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(0) + " KiB";
    return (n / 1024 / 1024).toFixed(1) + " MiB";
  }

  function formatDuration(s) {
    if (s === null || s === undefined) return "";
    const m = Math.floor(s / 60);
    const sec = Math.round(s % 60);
    return m + ":" + String(sec).padStart(2, "0");
  }

  function poll(key, fn) {
    if (state.polls.has(key)) return;
    const timer = setTimeout(async () => {
      state.polls.delete(key);
      try {
        await fn();
      } catch (e) {
        /* the next refresh retries */
      }
    }, POLL_MS);
    state.polls.set(key, timer);
  }

  // ------------------------------------------------------------- sign-in
  async function signIn() {
    if (!state.token) {
      $("#whoami").textContent = "Not signed in.";
      for (const id of ["#admin-panel", "#gallery-section", "#music-section"]) $(id).hidden = true;
      $("#sign-out").hidden = true;
      return;
    }
    try {
      await api("user/images?limit=1");
    } catch (e) {
      setStatus(e.status === 401 ? "That token was not accepted." : e.message, true);
      return;
    }
    try {
      await api("admin/images?limit=1");
      state.admin = true;
    } catch (e) {
      state.admin = false;
    }
    document.body.classList.toggle("is-admin", state.admin);
    $("#whoami").textContent = state.admin ? "Signed in as admin." : "Signed in as user.";
    $("#sign-out").hidden = false;
    $("#admin-panel").hidden = !state.admin;
    $("#gallery-section").hidden = false;
    $("#music-section").hidden = false;
    setStatus("");
    await Promise.all([loadGallery(true), loadSets(), state.admin ? loadAdminImages() : null]);
  }

  $("#token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.token = $("#token").value.trim();
    localStorage.setItem(TOKEN_KEY, state.token);
    signIn();
  });
  $("#sign-out").addEventListener("click", () => {
    state.token = "";
    state.admin = false;
    localStorage.removeItem(TOKEN_KEY);
    $("#token").value = "";
    audio.pause();
    audio.removeAttribute("src");
    audio.load();
    state.current = null;
    $("#now-playing").textContent = "nothing";
    document.body.classList.remove("is-admin");
    signIn();
  });

  // ------------------------------------------------------------- gallery
  function srcset(image) {
    const entries = Object.entries(image.thumbnails || {})
      .map(([name, url]) => [parseInt(name.replace(/\D/g, ""), 10), url])
      .filter(([size]) => size > 0)
      .sort((a, b) => a[0] - b[0]);
    const longest = Math.max(image.width || 1, image.height || 1);
    return entries.map(([size, url]) => {
      // thumbnails are named by their longest side; srcset wants the real width
      const width = image.width ? Math.min(image.width, Math.round((size * image.width) / longest)) : size;
      return { url, width };
    });
  }

  function galleryItem(image) {
    const sources = srcset(image);
    const caption = el("figcaption", { text: image.title || image.filename });
    let visual;
    if (sources.length) {
      visual = el("img", {
        src: sources[0].url,
        srcset: sources.map((s) => s.url + " " + s.width + "w").join(", "),
        sizes: "(max-width: 600px) 45vw, 220px",
        alt: image.title || image.filename,
        loading: "lazy",
        width: sources[0].width,
        height: image.width ? Math.round((sources[0].width * image.height) / image.width) : null,
      });
    } else {
      visual = el("div", {
        class: "placeholder",
        text: image.status === "failed" ? "could not be processed" : "processing…",
      });
      if (image.status !== "failed") poll("gallery", () => loadGallery(true));
    }
    const link = el("a", { href: image.url, target: "_blank", rel: "noopener" }, visual);
    return el("li", { "data-id": image.id }, el("figure", {}, link, caption));
  }

  async function loadGallery(reset) {
    const params = new URLSearchParams({ limit: "24" });
    if (!reset && state.galleryCursor) params.set("cursor", state.galleryCursor);
    const page = await api("user/images?" + params);
    const list = $("#gallery");
    if (reset) list.replaceChildren();
    for (const image of page.items) list.append(galleryItem(image));
    state.galleryCursor = page.next_cursor;
    $("#gallery-more").hidden = !page.next_cursor;
    $("#gallery-empty").hidden = list.children.length > 0;
  }

  $("#gallery-more").addEventListener("click", () => loadGallery(false));
  $("#refresh").addEventListener("click", () => {
    loadGallery(true);
    loadSets();
    if (state.admin) loadAdminImages();
  });

  // -------------------------------------------------------- admin images
  async function loadAdminImages() {
    const page = await api("admin/images?limit=100");
    const list = $("#admin-images");
    list.replaceChildren();
    let pending = false;
    for (const image of page.items) {
      if (image.status === "pending" || image.status === "processing") pending = true;
      const visible = el("input", {
        type: "checkbox",
        checked: image.visible,
        "aria-label": "Visible: " + (image.title || image.filename),
        onchange: async (ev) => {
          try {
            await api("admin/images/" + image.id, { method: "PUT", json: { visible: ev.target.checked } });
            await loadGallery(true);
          } catch (e) {
            setStatus(e.message, true);
          }
        },
      });
      const del = el("button", {
        type: "button",
        class: "quiet danger",
        text: "Delete",
        "aria-label": "Delete " + (image.title || image.filename),
        onclick: async () => {
          if (!confirm("Delete " + image.filename + "?")) return;
          try {
            await api("admin/images/" + image.id, { method: "DELETE" });
            await Promise.all([loadAdminImages(), loadGallery(true)]);
          } catch (e) {
            setStatus(e.message, true);
          }
        },
      });
      list.append(
        el(
          "li",
          { "data-id": image.id },
          el("span", { class: "name", text: image.title || image.filename }),
          el("span", { class: "meta", text: image.status + " · " + formatBytes(image.size) }),
          el("label", {}, visible, " visible"),
          del
        )
      );
    }
    // Users (the gallery) see an image only once it is ready: while some are still being
    // processed, refresh the gallery with the admin list, and once more when they are done.
    const wasPending = state.adminPending;
    state.adminPending = pending;
    if (pending) {
      poll("admin-images", loadAdminImages);
      poll("gallery", () => loadGallery(true));
    } else if (wasPending) {
      loadGallery(true);
    }
  }

  // ----------------------------------------------------------- uploading
  // One request per file so that each file has its own progress bar. Files go one after the
  // other (the server limits concurrent uploads per admin); a 429 waits Retry-After and retries.
  function uploadFile(url, file, fields, list) {
    const bar = el("progress", { max: "100", value: "0", "aria-label": "Upload of " + file.name });
    const note = el("span", { class: "meta", text: formatBytes(file.size) + " · waiting" });
    const item = el("li", { class: "upload" }, el("span", { class: "name", text: file.name }), bar, note);
    list.append(item);
    const send = () =>
      new Promise((resolve) => {
        const xhr = new XMLHttpRequest();
        xhr.open("POST", API + url);
        xhr.setRequestHeader("Authorization", "Bearer " + state.token);
        xhr.upload.onprogress = (ev) => {
          if (ev.lengthComputable) {
            bar.value = Math.round((ev.loaded / ev.total) * 100);
            note.textContent = formatBytes(file.size) + " · " + bar.value + "%";
          }
        };
        xhr.onload = () => resolve({ status: xhr.status, xhr });
        xhr.onerror = () => resolve({ status: 0, xhr });
        const form = new FormData();
        for (const [k, v] of Object.entries(fields)) form.append(k, v);
        form.append("files", file, file.name);
        note.textContent = formatBytes(file.size) + " · uploading";
        xhr.send(form);
      });
    const attempt = async (tries) => {
      const { status, xhr } = await send();
      if (status === 429 && tries < 5) {
        const wait = parseInt(xhr.getResponseHeader("Retry-After") || "1", 10);
        note.textContent = "server busy, retrying in " + wait + " s";
        await new Promise((r) => setTimeout(r, wait * 1000));
        return attempt(tries + 1);
      }
      if (status >= 200 && status < 300) {
        bar.value = 100;
        item.classList.add("done");
        note.textContent = formatBytes(file.size) + " · uploaded";
        return JSON.parse(xhr.responseText).items;
      }
      let message = status ? "failed (" + status + ")" : "network error";
      try {
        message = JSON.parse(xhr.responseText).error.message;
      } catch (e) {
        /* keep the generic message */
      }
      item.classList.add("failed");
      note.textContent = message;
      return [];
    };
    const run = state.uploadQueue.then(() => attempt(0));
    state.uploadQueue = run.catch(() => []);
    return run;
  }

  async function uploadImages(files) {
    const fields = { visible: $("#image-visible").checked ? "true" : "false" };
    const list = $("#upload-list");
    const results = await Promise.all(
      Array.from(files).map((f) => uploadFile("admin/images/upload", f, fields, list))
    );
    const count = results.flat().length;
    setStatus(count + " image" + (count === 1 ? "" : "s") + " uploaded; thumbnails are being made.");
    await Promise.all([loadGallery(true), loadAdminImages()]);
  }

  // The zone is the <label> of a visually hidden file input: clicking it or focusing the input
  // (Tab) and pressing Space opens the file chooser; dropping files on it uploads them.
  function wireDrop(zone, input, onFiles) {
    zone.addEventListener("dragover", (ev) => {
      ev.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (ev) => {
      ev.preventDefault();
      zone.classList.remove("over");
      if (ev.dataTransfer && ev.dataTransfer.files.length) onFiles(ev.dataTransfer.files);
    });
    input.addEventListener("change", () => {
      if (input.files.length) onFiles(Array.from(input.files));
      input.value = "";
    });
  }

  wireDrop($("#image-drop"), $("#image-files"), uploadImages);

  // ---------------------------------------------------------- music sets
  $("#set-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const json = {
      title: $("#set-title").value.trim(),
      description: $("#set-description").value.trim(),
      visible: $("#set-visible").checked,
    };
    try {
      const created = await api("admin/music-sets", { method: "POST", json });
      ev.target.reset();
      $("#set-visible").checked = true;
      setStatus("Music set “" + created.title + "” created.");
      await loadSets();
    } catch (e) {
      setStatus(e.message, true);
    }
  });

  async function loadSets() {
    const scope = state.admin ? "admin" : "user";
    const page = await api(scope + "/music-sets?limit=100");
    const list = $("#sets");
    const details = await Promise.all(page.items.map((s) => api(scope + "/music-sets/" + s.id)));
    list.replaceChildren(...details.map(setCard));
    $("#sets-empty").hidden = details.length > 0;
  }

  function setCard(set) {
    const node = $("#set-template").content.firstElementChild.cloneNode(true);
    node.dataset.id = set.id;
    $(".set-title", node).textContent = set.title;
    $(".set-description", node).textContent = set.description || "";
    $(".hidden-badge", node).hidden = set.visible;
    const visible = $(".set-visible", node);
    visible.checked = set.visible;
    visible.addEventListener("change", async () => {
      try {
        await api("admin/music-sets/" + set.id + "/visibility", {
          method: "PUT",
          json: { visible: visible.checked },
        });
        await loadSets();
      } catch (e) {
        setStatus(e.message, true);
      }
    });
    $(".delete-set", node).addEventListener("click", async () => {
      if (!confirm("Delete the set “" + set.title + "” and its tracks?")) return;
      try {
        await api("admin/music-sets/" + set.id, { method: "DELETE" });
        await loadSets();
      } catch (e) {
        setStatus(e.message, true);
      }
    });
    const tracks = $(".tracks", node);
    let pending = false;
    for (const t of set.tracks || []) {
      if (t.status === "pending" || t.status === "processing") pending = true;
      tracks.append(trackRow(set, t));
    }
    if (!(set.tracks || []).length) tracks.append(el("li", { class: "empty", text: "No tracks yet." }));
    if (pending) poll("sets", loadSets);
    const zone = $(".track-upload .drop", node);
    const input = $(".track-files", node);
    wireDrop(zone, input, async (files) => {
      const list = $(".track-upload .uploads", node);
      await Promise.all(
        Array.from(files).map((f) => uploadFile("admin/music-sets/" + set.id + "/tracks", f, {}, list))
      );
      await loadSets();
    });
    return node;
  }

  function trackRow(set, t) {
    const ready = t.status === "ready";
    const title = t.title || t.filename;
    const play = el("button", {
      type: "button",
      class: "play",
      text: "▶ Play",
      disabled: !ready || !set.visible,
      title: !set.visible ? "Make the set visible to stream it" : null,
      "aria-label": "Play " + title,
      onclick: () => playTrack(set, t),
    });
    const download = el("button", {
      type: "button",
      class: "quiet",
      text: "Download",
      disabled: !set.visible,
      "aria-label": "Download " + title,
      onclick: async () => {
        try {
          const d = await api("user/music-sets/" + set.id + "/download/" + t.id);
          window.location.href = d.url;
        } catch (e) {
          setStatus(e.message, true);
        }
      },
    });
    const meta = ready ? formatDuration(t.duration_s) : t.status === "failed" ? "failed: " + (t.failure_reason || "") : t.status + "…";
    return el(
      "li",
      { class: "track", "data-id": t.id, "data-status": t.status },
      play,
      el("span", { class: "name", text: title }),
      el("span", { class: "meta", text: meta }),
      download
    );
  }

  // -------------------------------------------------------------- player

  async function streamUrl(setId, trackId, quality) {
    const params = new URLSearchParams({ quality });
    return api("user/music-sets/" + setId + "/stream/" + trackId + "?" + params);
  }

  async function playTrack(set, t) {
    try {
      const s = await streamUrl(set.id, t.id, $("#quality").value);
      state.current = { setId: set.id, trackId: t.id, title: t.title || t.filename };
      $("#now-playing").textContent = state.current.title + " (" + s.quality + ")";
      audio.src = s.url;
      await audio.play();
    } catch (e) {
      setStatus(e.code === "not_ready" ? "That quality is not encoded yet." : e.message, true);
    }
  }

  // Switching quality keeps the position (and the playing/paused state).
  $("#quality").addEventListener("change", async () => {
    if (!state.current) return;
    const at = audio.currentTime;
    const wasPlaying = !audio.paused;
    try {
      const s = await streamUrl(state.current.setId, state.current.trackId, $("#quality").value);
      audio.addEventListener(
        "loadedmetadata",
        () => {
          audio.currentTime = Math.min(at, audio.duration || at);
          if (wasPlaying) audio.play();
        },
        { once: true }
      );
      audio.src = s.url;
      audio.load();
      $("#now-playing").textContent = state.current.title + " (" + s.quality + ")";
    } catch (e) {
      setStatus(e.code === "not_ready" ? "That quality is not encoded yet." : e.message, true);
    }
  });

  // ---------------------------------------------------------------- start
  $("#token").value = state.token;
  signIn();
})();
