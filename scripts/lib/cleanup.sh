# Sourced by scripts/test: what to undo when the script exits (throw-away servers).
# Steps run in the reverse order they were added, each whatever the others did.

EXIT_STEPS=()

# on_exit STEP: run the shell command STEP when the script exits.
on_exit() {
  EXIT_STEPS=("$1" "${EXIT_STEPS[@]}")
  trap run_exit_steps EXIT
}

run_exit_steps() {
  local step
  for step in "${EXIT_STEPS[@]}"; do
    eval "$step" || true
  done
}
