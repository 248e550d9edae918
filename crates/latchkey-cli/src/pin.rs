//! Reading PINs: from the first line of stdin (`--pin-stdin`, for scripts) or typed on a terminal.
//! Every PIN lives in a `Zeroizing` buffer and goes straight into a [`Credential`].

use std::io::IsTerminal;

use latchkey::vault::NEW_PIN_RULE;
use latchkey::Credential;
use zeroize::Zeroizing;

use crate::output::Failure;

/// A new PIN: from stdin's first line, or typed twice on a terminal.
pub fn new_pin(from_stdin: bool) -> Result<Credential, Failure> {
    if from_stdin {
        return read_stdin_line().map(Credential::Pin);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::NoPin);
    }
    eprintln!("Choose a PIN or passphrase: {NEW_PIN_RULE}. You will need it to unlock the stored session.");
    let first = Zeroizing::new(rpassword::prompt_password("New PIN: ").map_err(Failure::Terminal)?);
    let second =
        Zeroizing::new(rpassword::prompt_password("Repeat PIN: ").map_err(Failure::Terminal)?);
    if first != second {
        return Err(Failure::PinMismatch);
    }
    Ok(Credential::Pin(first))
}

/// The PIN of an existing vault: from stdin's first line, or typed on a terminal. Without
/// either, the vault stays locked (exit 5).
pub fn existing_pin(from_stdin: bool, prompt: &str) -> Result<Credential, Failure> {
    if from_stdin {
        return read_stdin_line().map(Credential::Pin);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::Core(latchkey::StoreError::Locked.into()));
    }
    Ok(Credential::Pin(Zeroizing::new(
        rpassword::prompt_password(prompt).map_err(Failure::Terminal)?,
    )))
}

fn read_stdin_line() -> Result<Zeroizing<String>, Failure> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .read_line(&mut line)
        .map_err(Failure::Terminal)?;
    let trimmed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
    Ok(trimmed)
}
