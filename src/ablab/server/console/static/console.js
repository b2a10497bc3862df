// ablab console: small progressive enhancements; every page works without this script.
"use strict";

function variantRows() {
  return Array.from(document.querySelectorAll("#variant-rows .variant-row"));
}

function renumber() {
  variantRows().forEach((row, index) => {
    const n = index + 1;
    row.querySelector('[name="variant_name"]').setAttribute("aria-label", `Variant ${n} name`);
    row.querySelector('[name="variant_version"]').setAttribute("aria-label", `Variant ${n} model version`);
    row.querySelector('[name="variant_weight"]').setAttribute("aria-label", `Variant ${n} weight in percent`);
    row.querySelector(".remove-variant").setAttribute("aria-label", `Remove variant ${n}`);
  });
}

function problemsOf(form) {
  const problems = [];
  const name = form.querySelector("#name");
  if (!name.value.trim()) problems.push("Give the experiment a name.");
  else if (!name.checkValidity()) problems.push("The name may hold only letters, digits, '.', '_' and '-'.");
  const rows = variantRows().filter((row) =>
    Array.from(row.querySelectorAll("input")).some((input) => input.value.trim()));
  if (rows.length < 2) problems.push("An experiment needs at least two variants: a control and a treatment.");
  const names = new Set();
  let total = 0;
  rows.forEach((row, index) => {
    const variant = row.querySelector('[name="variant_name"]').value.trim();
    const weight = Number(row.querySelector('[name="variant_weight"]').value || "0");
    if (!variant) problems.push(`Variant ${index + 1} needs a name.`);
    else if (names.has(variant)) problems.push(`Two variants are named ${variant}.`);
    names.add(variant);
    if (!(weight >= 0 && weight <= 100)) problems.push(`The weight of ${variant || "variant " + (index + 1)} must lie between 0 and 100.`);
    total += weight;
  });
  // The server's tolerance: 0.01 per variant (three thirds typed as 33.33 are fine).
  if (rows.length >= 2 && Math.abs(total - 100) > 0.01 * rows.length + 1e-9) problems.push(`The weights add up to ${total}%: they must add up to 100%.`);
  return problems;
}

function setUpNewExperiment() {
  const form = document.getElementById("new-experiment");
  if (!form) return;
  const errors = document.getElementById("form-errors");
  const body = document.getElementById("variant-rows");
  document.getElementById("add-variant").addEventListener("click", () => {
    const row = variantRows()[variantRows().length - 1].cloneNode(true);
    row.querySelectorAll("input").forEach((input) => { input.value = ""; });
    body.appendChild(row);
    renumber();
    row.querySelector("input").focus();
  });
  body.addEventListener("click", (event) => {
    const button = event.target.closest(".remove-variant");
    if (!button || variantRows().length <= 2) return;
    button.closest(".variant-row").remove();
    renumber();
  });
  form.addEventListener("submit", (event) => {
    const problems = problemsOf(form);
    if (problems.length === 0) return;
    event.preventDefault();
    errors.textContent = problems.join(" ");
    errors.hidden = false;
    errors.focus();
  });
  errors.setAttribute("tabindex", "-1");
}

// The metric list offers the model's metrics first once a model is chosen, and the
// project's first for a configuration experiment (the server renders the same order).
function setUpMetricOrder() {
  const model = document.getElementById("model");
  const metric = document.getElementById("primary_metric");
  if (!model || !metric) return;
  let touched = false;
  metric.addEventListener("change", () => { touched = true; });
  model.addEventListener("change", () => {
    const groups = Array.from(metric.querySelectorAll("optgroup"));
    const fromModel = groups.find((g) => g.dataset.source === "model");
    const fromProject = groups.find((g) => g.dataset.source === "project");
    if (!fromModel || !fromProject) return;
    const first = model.value ? fromModel : fromProject;
    metric.insertBefore(first, metric.firstChild);
    if (!touched) metric.value = first.querySelector("option").value;
  });
}

function setUpDrawer() {
  const drawer = document.querySelector(".drawer");
  if (!drawer) return;
  const close = drawer.querySelector(".close");
  close.focus();
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") window.location.assign(close.getAttribute("href"));
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setUpNewExperiment();
  setUpMetricOrder();
  setUpDrawer();
});
