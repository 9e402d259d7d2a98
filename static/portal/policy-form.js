// The policy form's two kinds (governance/admin/policies.py): a policy people request, with
// its requestor settings, approval stages and questions, or one assigned automatically by a
// membership rule. Only the chosen kind's parts show. Choosing "automatic" makes the access
// last until the rule stops matching ("Never"), unless an expiry was chosen by hand.
document.addEventListener("DOMContentLoaded", () => {
  const kinds = document.querySelectorAll('input[name="is_automatic"]');
  if (!kinds.length) return;
  let expiryChosen = false;
  document.querySelectorAll('input[name="expiration_type"]').forEach((input) =>
    input.addEventListener("change", () => { expiryChosen = true; }));
  const automatic = () =>
    document.querySelector('input[name="is_automatic"]:checked')?.value === "True";
  const show = (chosenNow) => {
    const isAutomatic = automatic();
    document.querySelectorAll("fieldset.requested-only").forEach((part) => {
      part.hidden = isAutomatic;
    });
    document.querySelectorAll("fieldset.automatic-only").forEach((part) => {
      part.hidden = !isAutomatic;
    });
    const questions = document.getElementById("questions-group");
    if (questions) questions.hidden = isAutomatic;
    if (chosenNow && isAutomatic && !expiryChosen) {
      const never = document.querySelector(
        'input[name="expiration_type"][value="noExpiration"]');
      if (never) never.checked = true;
    }
  };
  kinds.forEach((input) => input.addEventListener("change", () => show(true)));
  show(false);
});
