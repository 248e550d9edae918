import { invoke } from "@tauri-apps/api/core";
import * as latchkey from "tauri-plugin-latchkey-api";

let greetInputEl: HTMLInputElement | null;
let greetMsgEl: HTMLElement | null;

async function greet() {
  if (greetMsgEl && greetInputEl) {
    // Learn more about Tauri commands at https://tauri.app/develop/calling-rust/
    greetMsgEl.textContent = await invoke("greet", {
      name: greetInputEl.value,
    });
  }
}

// Latchkey: the user's name from the API. Rust adds the access token (and DPoP proof); script
// reaches only the origins given to `.api_origin(..)`, and never sees a token.
async function showName(issuer: string) {
  const me = await latchkey.fetch(`${issuer}/me`);
  document.querySelector("#who")!.textContent = JSON.parse(me.body).name;
}
const showError = (e: unknown) => (document.querySelector("#who")!.textContent = latchkey.toError(e).message);

window.addEventListener("DOMContentLoaded", () => {
  greetInputEl = document.querySelector("#greet-input");
  greetMsgEl = document.querySelector("#greet-msg");
  document.querySelector("#greet-form")?.addEventListener("submit", (e) => {
    e.preventDefault();
    greet();
  });

  // Latchkey: Sign in (choosing a PIN) or, after a relaunch, Unlock with it: no browser then.
  const pin = document.querySelector<HTMLInputElement>("#pin")!;
  const button = document.querySelector<HTMLButtonElement>("#sign-in")!;
  let state = "signed_out";
  latchkey.subscribe((status) => {
    const was = state;
    state = status.session?.state ?? "signed_out";
    button.textContent = state === "locked" ? "Unlock" : "Sign in";
    button.disabled = state === "signed_in";
    if (state === "signed_in" && was !== "signed_in") showName(status.session!.issuer).catch(showError);
  });
  document.querySelector("#latchkey-form")?.addEventListener("submit", (e) => {
    e.preventDefault();
    const withPin = { pin: pin.value };
    (state === "locked" ? latchkey.unlock(withPin) : latchkey.signIn(withPin)).catch(showError);
  });
});
