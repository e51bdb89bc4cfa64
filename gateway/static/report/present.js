// The owner's side of /present (docs/selective-disclosure.md): builds an SD-JWT
// presentation from the credential the page listed, and signs its key-binding JWT
// (ES256, RFC 9901 section 4.3) with WebCrypto. The holder's private key is read
// from a field with no name and never leaves this script; the page's CSP lets it
// open no connection at all.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const encoder = new TextEncoder();

  const b64url = (bytes) =>
    btoa(String.fromCharCode(...new Uint8Array(bytes)))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
  const b64json = (value) => b64url(encoder.encode(JSON.stringify(value)));

  // A file chosen in `input` is read into `target`: nothing is uploaded by itself.
  const loadInto = (input, target) => {
    if (!input || !target) return;
    input.addEventListener("change", async () => {
      const file = input.files && input.files[0];
      if (file) target.value = (await file.text()).trim();
    });
  };
  loadInto($("credential-file"), $("credential"));

  // The issue form takes the public key: a private one (with d) is stopped here,
  // before the browser sends it (the server would refuse it unread anyway).
  const issue = $("issue");
  if (issue) {
    issue.addEventListener("submit", (event) => {
      let jwk = null;
      try {
        jwk = JSON.parse($("issue-key").value);
      } catch {
        return;
      }
      if (jwk && typeof jwk === "object" && "d" in jwk) {
        event.preventDefault();
        $("issue-status").dataset.error = "";
        $("issue-status").textContent =
          "That is the private key (it has d): paste the public key, without d.";
      }
    });
  }
  loadInto($("holder-key-file"), $("holder-key"));

  const dataBlock = $("credential-data");
  if (!dataBlock) return;
  const data = JSON.parse(dataBlock.textContent);
  const status = $("build-status");
  status.textContent = "";
  delete status.dataset.noscript;

  // A disclosure goes out when its path and a ticked path are one a prefix of the
  // other: a claim with everything below it and the claims above it (as `robopass present`).
  const isPrefix = (a, b) => a.length <= b.length && a.every((part, i) => part === b[i]);
  const selected = (path, wanted) => {
    const names = path ? path.split(".") : [];
    return wanted.some((w) => isPrefix(w, names) || isPrefix(names, w));
  };

  const holderKey = async () => {
    let jwk;
    try {
      jwk = JSON.parse($("holder-key").value);
    } catch {
      throw new Error("The holder key is not JSON: paste the private JWK (kty EC, crv P-256, d).");
    }
    if (!jwk || jwk.kty !== "EC" || jwk.crv !== "P-256" || !jwk.d) {
      throw new Error("The holder key must be a private EC P-256 JWK (with d).");
    }
    if (jwk.x !== data.holder.x || jwk.y !== data.holder.y) {
      throw new Error("This key is not the one the credential is bound to (cnf).");
    }
    const bare = { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, d: jwk.d };
    return crypto.subtle.importKey("jwk", bare, { name: "ECDSA", namedCurve: "P-256" }, false, [
      "sign",
    ]);
  };

  const build = async () => {
    const wanted = [...document.querySelectorAll("[data-claims] input:checked")].map((box) =>
      box.value.split("."),
    );
    const audience = $("present-audience").value.trim();
    const nonce = $("present-nonce").value.trim();
    if (!wanted.length) throw new Error("Tick at least one claim to disclose.");
    if (!audience || !nonce) throw new Error("Give the audience and the nonce the verifier sent.");
    if (!window.crypto || !crypto.subtle) {
      throw new Error("This browser offers no WebCrypto here (the page needs https).");
    }
    const key = await holderKey();
    const chosen = data.disclosures.filter((d) => selected(d.path, wanted)).map((d) => d.encoded);
    const withoutKb = [data.jwt, ...chosen, ""].join("~");
    const sdHash = b64url(await crypto.subtle.digest("SHA-256", encoder.encode(withoutKb)));
    const header = b64json({ alg: "ES256", typ: "kb+jwt" });
    const payload = b64json({
      iat: Math.floor(Date.now() / 1000),
      aud: audience,
      nonce: nonce,
      sd_hash: sdHash,
    });
    const input = `${header}.${payload}`;
    const signature = await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      key,
      encoder.encode(input),
    );
    return { text: `${withoutKb}${input}.${b64url(signature)}`, count: chosen.length };
  };

  const download = $("download");
  $("build-button").addEventListener("click", async () => {
    status.textContent = "";
    status.removeAttribute("data-error");
    try {
      const { text, count } = await build();
      $("presentation-out").value = text;
      if (download.href.startsWith("blob:")) URL.revokeObjectURL(download.href);
      download.href = URL.createObjectURL(new Blob([`${text}\n`], { type: "text/plain" }));
      download.hidden = false;
      status.dataset.built = String(count);
      status.textContent = `Built: ${count} disclosure(s) and a key-binding JWT.`;
    } catch (error) {
      status.dataset.error = "";
      status.textContent = error.message;
    }
  });
})();
