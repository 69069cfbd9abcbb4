// Customer pages: a picked day or time is checked by the company's calendar rule (the page's
// /book/check) as soon as it is picked, and a refused one is shown beside its field and keeps
// the form from being sent. The server checks every post again; without this script the
// refusal simply comes with the answer to the post.
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="portal-check"]');
  if (!meta) return;
  const url = meta.getAttribute("content");

  function errorId(input) {
    return "err-" + (input.name === "day" ? "day" : input.name);
  }

  function show(input, message) {
    const id = errorId(input);
    let span = document.getElementById(id);
    if (!message) {
      if (span && span.dataset.live) {
        span.remove();
        input.removeAttribute("aria-invalid");
        input.closest(".field")?.classList.remove("invalid");
      }
      return;
    }
    if (!span) {
      span = document.createElement("span");
      span.className = "field-error";
      span.id = id;
      span.setAttribute("role", "alert");
      input.insertAdjacentElement("afterend", span);
    }
    span.dataset.live = "1";
    span.textContent = message;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", id);
    input.closest(".field")?.classList.add("invalid");
  }

  function context(input, name) {
    const given = input.dataset["check" + name];
    if (given !== undefined) return given;
    const field = input.form && input.form.elements[input.dataset["check" + name + "Field"] || ""];
    return field ? field.value : "";
  }

  function urgentBox(input) {
    const name = input.dataset.checkUrgentField;
    const box = name && input.form ? input.form.elements[name] : null;
    return box && box.type === "checkbox" ? box : null;
  }

  // The picker starts at the earliest time the lead allows, or now for an urgent request.
  function followUrgent(input) {
    const box = urgentBox(input);
    if (!box) return;
    box.addEventListener("change", function () {
      const earliest = box.checked ? input.dataset.minUrgent : input.dataset.minNormal;
      if (earliest) input.min = earliest;
      if (input.value) check(input);
    });
  }

  async function check(input) {
    // An earlier refusal goes as soon as the value changes: a post sent before the answer
    // arrives is checked by the server anyway.
    show(input, "");
    if (!input.value) return;
    const params = new URLSearchParams({
      kind: input.dataset.check,
      value: input.value,
      store: context(input, "Store"),
      item: context(input, "Item"),
    });
    // A booking page's time with a lead in working days: its process and field, and whether
    // the request is marked urgent (which lets a shorter lead through).
    if (input.dataset.checkProcess) {
      params.set("process", input.dataset.checkProcess);
      params.set("field", input.dataset.checkField || input.name);
      params.set("urgent", urgentBox(input)?.checked ? "1" : "");
    }
    try {
      const answer = await fetch(url + "?" + params.toString(), {
        headers: { Accept: "application/json" },
      });
      if (!answer.ok) return;
      const body = await answer.json();
      show(input, body.ok ? "" : body.message);
    } catch (error) {
      // No answer: the post is checked anyway.
    }
  }

  document.querySelectorAll("input[data-check]").forEach(function (input) {
    input.addEventListener("change", function () {
      check(input);
    });
    followUrgent(input);
    // The day's answer depends on the item and store chosen beside it.
    if (input.form) {
      input.form.querySelectorAll("select").forEach(function (select) {
        select.addEventListener("change", function () {
          if (input.value) check(input);
        });
      });
    }
  });

  document.addEventListener("submit", function (event) {
    const refused = event.target.querySelector(".field-error[data-live]");
    if (refused) {
      event.preventDefault();
      const input = event.target.querySelector('[aria-describedby~="' + refused.id + '"]');
      (input || refused).focus();
    }
  });
})();
