/*
 * BulkQA preview: a local stand-in for the three crowd-html-elements the worker template uses
 * (crowd-form, crowd-card, crowd-checkbox). `bulkqa preview` serves it in place of
 * https://assets.crowd.aws/crowd-html-elements.js so the page works offline.
 *
 * On submit, crowd-form produces what Ground Truth's crowd-form produces for crowd-checkbox:
 * one object, {"<name>": {"<value>": true|false}, ...} (boxes sharing a name share one object;
 * value defaults to "on"). The answer is shown on the page and POSTed to the preview server.
 * Nothing here writes attribute values or labels as markup: only textContent and properties.
 */
(function () {
  "use strict";

  var STYLE = [
    "crowd-form { display: block; }",
    "crowd-card { display: block; background: #fff; border-radius: 8px;",
    "  box-shadow: 0 1px 3px rgba(16, 24, 40, .15), 0 1px 2px rgba(16, 24, 40, .08); }",
    ".crowd-card__heading { font-weight: 600; padding: 10px 12px 0; }",
    ".crowd-card__image { display: block; width: 100%; border-radius: 8px 8px 0 0; }",
    "crowd-checkbox { display: block; }",
    "crowd-checkbox[disabled] { opacity: .5; }",
    ".crowd-checkbox__label { display: flex; align-items: center; gap: 10px; width: 100%;",
    "  min-height: 44px; box-sizing: border-box; padding: 6px 8px; cursor: pointer; border-radius: 6px; }",
    ".crowd-checkbox__label:hover { background: rgba(0, 0, 0, .04); }",
    ".crowd-checkbox__input { width: 22px; height: 22px; margin: 0; accent-color: #0b6e4f; cursor: pointer; }",
    ".crowd-form__footer { display: flex; justify-content: flex-end; padding: 8px 16px 16px; }",
    ".crowd-form__submit { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; font-size: 1rem; font-weight: 600; color: #fff; background: #ec7211;",
    "  border: 0; border-radius: 4px; padding: 12px 28px; min-height: 44px; cursor: pointer; }",
    ".crowd-form__submit:hover { background: #d45b07; }",
    ".crowd-preview-output { margin: 0 16px 24px; padding: 12px 16px; border: 1px solid #bcccdc;",
    "  border-radius: 8px; background: #f0f4f8; font-family: system-ui, sans-serif; }",
    ".crowd-preview-output h2 { font-size: 1rem; margin: 0 0 8px; }",
    ".crowd-preview-output pre { margin: 0; max-height: 320px; overflow: auto; font-size: .85rem;",
    "  background: #fff; padding: 8px; border-radius: 4px; }",
    ".crowd-preview-status { margin: 8px 0 0; font-size: .9rem; }"
  ].join("\n");

  function addStyle() {
    var style = document.createElement("style");
    style.setAttribute("data-crowd-stand-in", "");
    style.textContent = STYLE;
    (document.head || document.documentElement).appendChild(style);
  }

  class CrowdCheckbox extends HTMLElement {
    connectedCallback() {
      if (this._input) { return; }
      const label = document.createElement("label");
      label.className = "crowd-checkbox__label";
      const input = document.createElement("input");
      input.type = "checkbox";
      input.className = "crowd-checkbox__input";
      input.checked = this.hasAttribute("checked");
      input.disabled = this.hasAttribute("disabled");
      const text = document.createElement("span");
      text.className = "crowd-checkbox__text";
      while (this.firstChild) { text.appendChild(this.firstChild); }
      label.append(input, text);
      this.appendChild(label);
      this._input = input;
      input.addEventListener("change", () => {
        this._reflect();
        this.dispatchEvent(new Event("change", { bubbles: true }));
      });
      // The whole element is the click target, not only its label.
      this.addEventListener("click", (event) => {
        if (!label.contains(event.target) && !input.disabled) { input.click(); }
      });
    }
    _reflect() {
      if (this._input.checked) { this.setAttribute("checked", ""); } else { this.removeAttribute("checked"); }
    }
    get checked() { return this._input ? this._input.checked : this.hasAttribute("checked"); }
    set checked(value) {
      if (this._input) {
        this._input.checked = !!value;
        this._reflect();
      } else if (value) {
        this.setAttribute("checked", "");
      } else {
        this.removeAttribute("checked");
      }
    }
    get name() { return this.getAttribute("name") || ""; }
    get value() { return this.hasAttribute("value") ? this.getAttribute("value") : "on"; }
  }

  class CrowdCard extends HTMLElement {
    connectedCallback() {
      if (this._ready) { return; }
      this._ready = true;
      if (this.hasAttribute("heading")) {
        const heading = document.createElement("div");
        heading.className = "crowd-card__heading";
        heading.textContent = this.getAttribute("heading");
        this.insertBefore(heading, this.firstChild);
      }
      if (this.hasAttribute("image")) {
        const image = document.createElement("img");
        image.className = "crowd-card__image";
        image.src = this.getAttribute("image");
        image.alt = "";
        this.insertBefore(image, this.firstChild);
      }
    }
  }

  class CrowdForm extends HTMLElement {
    connectedCallback() {
      if (this._ready) { return; }
      this._ready = true;
      const footer = document.createElement("div");
      footer.className = "crowd-form__footer";
      const button = document.createElement("button");
      button.type = "button";
      button.className = "crowd-form__submit";
      button.textContent = "Submit";
      button.addEventListener("click", () => this.submit());
      footer.appendChild(button);
      this.appendChild(footer);
    }
    // The answer Ground Truth stores as annotationData.content.
    answer() {
      const answer = Object.create(null);
      for (const box of this.querySelectorAll("crowd-checkbox")) {
        const name = box.name;
        if (!name) { continue; }
        if (!Object.prototype.hasOwnProperty.call(answer, name)) { answer[name] = Object.create(null); }
        answer[name][box.value] = !!box.checked;
      }
      return answer;
    }
    submit() {
      const event = new Event("submit", { bubbles: true, cancelable: true });
      if (!this.dispatchEvent(event)) { return null; }
      const answer = this.answer();
      showAnswer(answer);
      postAnswer(answer);
      return answer;
    }
  }

  function outputPanel() {
    var panel = document.getElementById("crowd-preview-output");
    if (panel) { return panel; }
    panel = document.createElement("section");
    panel.id = "crowd-preview-output";
    panel.className = "crowd-preview-output";
    var title = document.createElement("h2");
    title.textContent = "Submitted answer (annotationData.content)";
    var pre = document.createElement("pre");
    pre.id = "crowd-preview-answer";
    var status = document.createElement("p");
    status.id = "crowd-preview-status";
    status.className = "crowd-preview-status";
    panel.appendChild(title);
    panel.appendChild(pre);
    panel.appendChild(status);
    document.body.appendChild(panel);
    return panel;
  }

  // Valid JSON, one box per line.
  function formatAnswer(answer) {
    const lines = Object.keys(answer).map((name) => "  " + JSON.stringify(name) + ": " + JSON.stringify(answer[name]));
    return lines.length ? "{\n" + lines.join(",\n") + "\n}" : "{}";
  }

  function showAnswer(answer) {
    var panel = outputPanel();
    document.getElementById("crowd-preview-answer").textContent = formatAnswer(answer);
    document.getElementById("crowd-preview-status").textContent = "";
    document.body.removeAttribute("data-crowd-preview-status");
    window.crowdPreviewAnswer = answer;
    panel.scrollIntoView({ block: "nearest" });
  }

  function setStatus(text, state) {
    document.getElementById("crowd-preview-status").textContent = text;
    document.body.setAttribute("data-crowd-preview-status", state);
  }

  function metaContent(name) {
    var meta = document.querySelector('meta[name="' + name + '"]');
    return meta ? meta.getAttribute("content") || "" : "";
  }

  function postAnswer(answer) {
    if (!/^https?:$/.test(location.protocol) || !window.fetch) {
      setStatus("Not sent: open the page through `bulkqa preview` to send answers.", "offline");
      return;
    }
    setStatus("Sending to the preview server…", "sending");
    // The server names where this page's answer goes and the per-run token it requires: a page
    // from any other origin cannot read either, so it cannot post votes.
    fetch(metaContent("bulkqa-preview-submit") || "/submit", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-BulkQA-Token": metaContent("bulkqa-preview-token") },
      body: JSON.stringify(answer)
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      window.crowdPreviewResult = result.body;
      setStatus(result.body.message || (result.ok ? "Received." : "The preview server refused the answer."),
        result.ok ? "done" : "error");
    }).catch(function (error) {
      setStatus("Could not reach the preview server: " + error, "error");
    });
  }

  function define() {
    addStyle();
    if (!customElements.get("crowd-checkbox")) { customElements.define("crowd-checkbox", CrowdCheckbox); }
    if (!customElements.get("crowd-card")) { customElements.define("crowd-card", CrowdCard); }
    if (!customElements.get("crowd-form")) { customElements.define("crowd-form", CrowdForm); }
    document.documentElement.setAttribute("data-crowd-stand-in", "ready");
  }

  // Define once the document is parsed, so every element upgrades with its children in place.
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", define);
  } else {
    define();
  }
})();
