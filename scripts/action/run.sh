#!/usr/bin/env bash
# The action's main step (action.yml): runs one reconciler command in the job's
# checkout, writes the job summary, the pull-request comment (plan) and the
# step's outputs, and commits the state back when asked.
#
# Inputs come as environment variables: INPUT_COMMAND, INPUT_PATHS, INPUT_ARGS,
# INPUT_BACKEND, INPUT_COMMIT_STATE; reconciler's own RECONCILER_STATE,
# RECONCILER_ENDPOINT and credentials. Exit status: the command's, except
# `wait`, which succeeds when models are only still tuning at its --timeout
# (the next scheduled run follows them), and plan/drift, where 2 (changes) is
# reported in the has-changes output rather than as a failure.
set -uo pipefail

command="${INPUT_COMMAND:?command is required}"
read -r -a paths <<< "${INPUT_PATHS:-manifests}"
read -r -a args <<< "${INPUT_ARGS:-}"
summary="${GITHUB_STEP_SUMMARY:-/dev/null}"
output="${GITHUB_OUTPUT:-/dev/null}"
log=$(mktemp)

# The backend: empty leaves it to the manifests' Backend document (else the
# Gemini API); gemini or vertex is passed on as RECONCILER_BACKEND, which a
# Backend document in the manifests still overrides.
case "${INPUT_BACKEND:-}" in
  "") ;;
  gemini | vertex) export RECONCILER_BACKEND="$INPUT_BACKEND" ;;
  *)
    echo "::error::backend ${INPUT_BACKEND} is not supported (gemini or vertex)"
    exit 1
    ;;
esac

fenced() {  # a log excerpt for markdown, its last lines
  echo '```'
  tail -n 40 "$1"
  echo '```'
}

manifests_tree() {  # the Git tree ids of the manifest paths: what a saved plan was made from
  local path
  for path in "${paths[@]}"; do git rev-parse "HEAD:${path%/}" 2>/dev/null || echo "missing:$path"; done
}

commit_state() {
  [ "${INPUT_COMMIT_STATE:-false}" = true ] || return 0
  local state="${RECONCILER_STATE:-}"
  case "$state" in postgres://* | postgresql://* | "") return 0 ;; esac
  if [ ! -f "$state" ]; then echo "No state was written."; return 0; fi
  git config user.name "reconciler"
  git config user.email "reconciler@users.noreply.github.com"
  git add "$state"
  # A journal is left only by a run that was killed before folding it into the
  # state file: it is part of the state until the next writer does so.
  if [ -e "$state.journal" ] || git ls-files --error-unmatch "$state.journal" >/dev/null 2>&1; then
    git add -A -- "$state.journal"
  fi
  if git diff --cached --quiet; then echo "The state did not change."; return 0; fi
  git commit -q -m "reconciler: state after ${command} of ${GITHUB_SHA:-$(git rev-parse HEAD)}"
  local branch="${GITHUB_REF_NAME:-main}"
  git pull -q --rebase origin "$branch"   # another run may have pushed meanwhile
  git push -q origin "HEAD:$branch"
  echo "Committed the state back to $branch."
}

run_validate() {
  reconciler validate --format github "${paths[@]}" "${args[@]}"
}

run_plan() {
  mkdir -p reconciler-plan
  local code=0
  reconciler plan --detailed-exitcode --format markdown --out reconciler-plan/plan.json \
    "${paths[@]}" "${args[@]}" > reconciler-plan/plan.md 2> "$log" || code=$?
  cat "$log" >&2
  manifests_tree > reconciler-plan/manifests.tree
  if [ "$code" = 0 ] || [ "$code" = 2 ]; then
    cp reconciler-plan/plan.md reconciler-plan/comment.md
    echo "has-changes=$([ "$code" = 2 ] && echo true || echo false)" >> "$output"
  else
    {
      echo "### reconciler plan"
      echo
      echo "**The plan failed** (exit $code) for ${GITHUB_SHA:-$(git rev-parse HEAD)}; nothing can be applied from it:"
      echo
      fenced "$log"
    } > reconciler-plan/comment.md
    rm -f reconciler-plan/plan.json
  fi
  cat reconciler-plan/comment.md >> "$summary"
  [ "$code" = 2 ] && code=0
  return "$code"
}

run_apply() {
  # --no-wait: the requests are sent and recorded, the state is committed at
  # once; following tuning (hours on the real service) is the `wait` job's.
  local code=0
  apply_once > "$log" 2>&1 || code=$?
  cat "$log"
  # A model tuned from one that is still tuning is skipped, not failed: the
  # follow job applies again once its source is ACTIVE.
  if [ "$code" = 1 ] && grep -q "; 0 failed, [1-9][0-9]* skipped" "$log" \
    && ! grep -E ": skipped: " "$log" | grep -v -q "is still tuning"; then
    echo "Models tuned from a model still tuning are created by a later apply (follow.yml)."
    code=0
  fi
  return "$code"
}

apply_once() {
  local reviewed=reconciler-reviewed
  if [ -f "$reviewed/plan.json" ] && [ -f "$reviewed/manifests.tree" ] \
    && [ "$(cat "$reviewed/manifests.tree")" = "$(manifests_tree)" ]; then
    echo "reviewed-plan=true" >> "$output"
    echo "Applying the plan reviewed on the pull request."
    reconciler apply --no-wait "${args[@]}" "$reviewed/plan.json"
  else
    echo "reviewed-plan=false" >> "$output"
    echo "No reviewed plan for these manifests: planning them again."
    {
      echo "No reviewed plan for these manifests: planned again and applied."
      echo
    } >> "$summary"
    reconciler plan --format markdown "${paths[@]}" >> "$summary" || return $?
    reconciler apply --auto-approve --no-wait "${paths[@]}" "${args[@]}"
  fi
}

run_wait() {
  local code=0
  reconciler wait "${args[@]}" > "$log" 2>&1 || code=$?
  cat "$log"
  { echo "### reconciler wait"; echo; fenced "$log"; } >> "$summary"
  # Still tuning at --timeout is not a failure: the next scheduled run follows it.
  if [ "$code" = 1 ] && grep -q "still tuning at --timeout" "$log" \
    && ! grep -E "^TunedModel/" "$log" | grep -v -e ": ACTIVE$" -e "still tuning at --timeout" | grep -q .; then
    echo "Still tuning; the next run follows it."
    code=0
  fi
  return "$code"
}

run_eval() {
  local manifests=() path
  for path in "${paths[@]}"; do manifests+=(--manifests "$path"); done
  reconciler eval --format markdown "${manifests[@]}" "${args[@]}" | tee -a "$summary"
}

run_drift() {
  # Two questions: did anyone change a live model outside the reconciler
  # (live vs state), and is anything merged but not applied (manifests vs live)?
  local live=0 merged=0
  {
    echo "### Changed outside the reconciler (live models vs the state)"
    echo
    reconciler plan --refresh-only --detailed-exitcode --format markdown "${paths[@]}" 2>&1 || live=$?
    echo
    echo "### Merged but not applied (the manifests vs the live models)"
    echo
    reconciler plan --detailed-exitcode --lock=false --format markdown "${paths[@]}" 2>&1 || merged=$?
  } > "$log"
  cat "$log"
  cat "$log" >> "$summary"
  for code in "$live" "$merged"; do
    if [ "$code" != 0 ] && [ "$code" != 2 ]; then return "$code"; fi
  done
  if [ "$live" = 2 ] || [ "$merged" = 2 ]; then
    echo "has-changes=true" >> "$output"
    return 2
  fi
  echo "has-changes=false" >> "$output"
}

case "$command" in
  validate | plan | apply | wait | eval | drift) ;;
  *) echo "::error::unknown command '$command' (validate, plan, apply, wait, eval or drift)"; exit 1 ;;
esac
code=0
"run_$command" || code=$?
echo "exitcode=$code" >> "$output"
commit_state || { echo "::error::could not commit the state back"; [ "$code" = 0 ] && code=1; }
exit "$code"
