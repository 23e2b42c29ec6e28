import ArgumentParser
import Foundation
import RosterApp

/// `roster init [--directory DIR]`: a new project that validates and plans at once.
struct InitCommand: ParsableCommand, RosterRunnable {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a new roster project: roster.yaml, a directory with the common roles and one customer, CI.",
        discussion: """
        Writes roster.yaml (state sqlite:.roster/state.db, invitations delivered as files), \
        directory/roles.yaml (admin, system-integrator, payment-management, reporting, creator, viewer, \
        ecommerce-viewer), directory/users.yaml, directory/customers/example.yaml, a .gitignore for \
        .roster/ and .github/workflows/roster.yml. The result validates with no warnings and plans at \
        once. Never overwrites: when any of these files exists, it names them, writes nothing and exits 1. \
        An existing .gitignore is not in the way: it is kept, and .roster/ is added to it unless it \
        already ignores it.

        Examples:
          roster init
          roster init --directory access && cd access && roster validate && roster plan
        """
    )

    @OptionGroup var options: GlobalOptions<TextOnly>

    @Option(help: ArgumentHelp("The folder to create the project in (default: the current folder).", valueName: "dir"))
    var directory: String?

    func validate() throws {
        if options.config != nil || options.state != nil {
            throw ValidationError("init writes roster.yaml into --directory; --config and --state do not apply")
        }
    }

    func run(in environment: Environment) throws -> ExitStatus {
        let given = directory ?? "."
        let folder = given.hasPrefix("/") ? given : environment.workingDirectory + "/" + given
        let shown = { (file: String) in given == "." ? file : (given.hasSuffix("/") ? given : given + "/") + file }
        let manager = FileManager.default

        // Check every target before writing any, so a refusal leaves the folder as it was. An
        // existing .gitignore (most repositories have one) gets the line for .roster/ added instead.
        let gitignore = folder + "/.gitignore"
        let originalGitignore = manager.contents(atPath: gitignore)
        let existing = InitTemplate.files.map(\.path)
            .filter { exists(folder + "/" + $0) && !($0 == ".gitignore" && originalGitignore != nil) }
        guard existing.isEmpty else {
            throw RosterError.refusingToOverwrite(paths: existing.map(shown),
                                                  gitignore: originalGitignore == nil ? nil : shown(".gitignore"))
        }
        var gitignoreNote = ""
        var created: [String] = []
        do {
            for file in InitTemplate.files {
                let path = folder + "/" + file.path
                if path == gitignore, let original = originalGitignore {
                    let text = String(decoding: original, as: UTF8.self)
                    let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                    if !lines.contains(".roster/") && !lines.contains(".roster") && !lines.contains("/.roster/") {
                        let separator = text.isEmpty || text.hasSuffix("\n") ? "" : "\n"
                        try Data((text + separator + file.contents).utf8).write(to: URL(fileURLWithPath: path))
                        gitignoreNote = "  (existing: .roster/ added to it)"
                    } else {
                        gitignoreNote = "  (existing: already ignores .roster/)"
                    }
                    continue
                }
                try manager.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                            withIntermediateDirectories: true)
                try Data(file.contents.utf8).write(to: URL(fileURLWithPath: path), options: .withoutOverwriting)
                created.append(path)
            }
        } catch {
            for path in created { try? manager.removeItem(atPath: path) }
            if let original = originalGitignore { try? original.write(to: URL(fileURLWithPath: gitignore)) }
            throw RosterError.cannotCreateProject(folder: given, reason: error.localizedDescription)
        }

        var text = "Created a roster project\(given == "." ? "" : " in \(given)"):\n"
        text += InitTemplate.files.map { "  \(shown($0.path))\($0.path == ".gitignore" ? gitignoreNote : "")\n" }.joined()
        text += "\nNext:\n"
        if given != "." { text += "  cd \(given)\n" }
        text += """
          roster validate      # check the files: 0 errors, 0 warnings
          roster plan          # what apply would change, in a new local store .roster/state.db
          roster apply         # invite the users and create the roles, customer and account

        Then edit directory/ to describe your own customers, and commit. The CI workflow reads its
        settings from the comment at the top of .github/workflows/roster.yml.

        """
        if let top = Git(folder: folder).topLevel, !sameFolder(top, folder) {
            text += "Note: GitHub runs workflows only from the repository's top folder: move "
                + ".github/workflows/roster.yml there and set the variable ROSTER_CONFIG to this roster.yaml's path.\n"
        }
        environment.stdout.write(text)
        return .success
    }

    /// True for any entry at `path`, a dangling symbolic link included.
    private func exists(_ path: String) -> Bool {
        (try? FileManager.default.attributesOfItem(atPath: path)) != nil
    }

    private func sameFolder(_ a: String, _ b: String) -> Bool {
        URL(fileURLWithPath: a).resolvingSymlinksInPath().path == URL(fileURLWithPath: b).resolvingSymlinksInPath().path
    }
}

/// The files `roster init` writes, in the order it lists them.
enum InitTemplate {
    struct File {
        var path: String
        var contents: String
    }

    static let files = [
        File(path: "roster.yaml", contents: config),
        File(path: "directory/roles.yaml", contents: roles),
        File(path: "directory/users.yaml", contents: users),
        File(path: "directory/customers/example.yaml", contents: customer),
        File(path: ".gitignore", contents: "# roster's local store and invitation outbox\n.roster/\n"),
        File(path: ".github/workflows/roster.yml", contents: workflow),
    ]

    static let config = """
        # roster project configuration. Every key is explained under "The files" in roster's README.md;
        # 'roster schema --kind config' prints its JSON Schema. Unknown keys are errors: a typo in an
        # access-control file is a security bug.
        version: 1
        sources: [directory]                 # files, folders or globs relative to this file
        state: sqlite:.roster/state.db       # or postgres://user@host:5432/db; --state and ROSTER_STATE override
        permissions:                         # the catalogue: every module and action a role may grant
          streams:   [create, read, update, delete]
          players:   [create, read, update, delete]
          billing:   [read, update]
          analytics: [read]
          users:     [invite, read, update, remove]
          ecommerce: [read, update]
        invitations:
          ttl: 7d                            # s, m, h, d units
          reissueExpired: true
          maxReissues: 3                     # after that the plan warns instead of re-issuing
          acceptUrl: https://portal.example.com/invite?token={token}
          delivery: {kind: file, path: .roster/outbox}   # one .eml file per invitation; or webhook / sendmail
        safety:                              # rails: apply refuses past these unless --allow RAIL
          maxUserDeactivations: 10%          # absolute number or percentage of active users
          maxMembershipRemovals: 25%
        limits:                              # defaults; a customer or account may set its own
          accountsPerCustomer: 10
          membersPerAccount: 200

        """

    static let roles = #"""
        # Roles: named sets of permissions drawn from the catalogue in roster.yaml. "*" grants every
        # action of that module. Ownership is never a role: it is a customer's or account's 'owner'.
        kind: Role
        id: admin
        name: Administrator
        description: Full control over streams, players, users, billing and the shop
        permissions:
          streams: ["*"]
          players: ["*"]
          users: ["*"]
          billing: ["*"]
          analytics: ["*"]
          ecommerce: ["*"]
        ---
        kind: Role
        id: system-integrator
        name: System Integrator
        description: Sets up ingest, players and integrations; no access to billing or users
        permissions:
          streams: [create, read, update, delete]
          players: [create, read, update, delete]
          analytics: [read]
        ---
        kind: Role
        id: payment-management
        name: Payment Management
        description: Handles payment processes and customer support tasks
        permissions:
          billing: [read, update]
          analytics: [read]
        ---
        kind: Role
        id: reporting
        name: Reporting
        description: Reads audience analytics and invoices for monthly reports
        permissions:
          analytics: [read]
          billing: [read]
          streams: [read]
        ---
        kind: Role
        id: creator
        name: Creator
        description: Produces live and on-demand content and configures players
        permissions:
          streams: [create, read, update]
          players: [create, read, update]
          analytics: [read]
        ---
        kind: Role
        id: viewer
        name: Viewer
        description: Watches streams and sees their players and analytics
        permissions:
          streams: [read]
          players: [read]
          analytics: [read]
        ---
        kind: Role
        id: ecommerce-viewer
        name: E-commerce Viewer
        description: Sees the shop catalogue and its sales analytics
        permissions:
          ecommerce: [read]
          analytics: [read]

        """#

    static let users = """
        # Users (kind: User documents): everyone who signs in. Emails compare case-insensitively and
        # show as written. Removing a user deactivates it (memberships end, history is kept); to change
        # an email, write the new one and list the old one under previousEmails.
        kind: User
        email: olivia@example.com
        name: Olivia Owner
        ---
        kind: User
        email: adam@example.com
        name: Adam Admin
        ---
        kind: User
        email: paula@example.com
        name: Paula Payments
        ---
        kind: User
        email: sam@example.com
        name: Sam Integrator
        ---
        kind: User
        email: vera@example.com
        name: Vera Viewer

        """

    static let customer = """
        # Customer Example Corp and its account (kind: Customer + kind: Account documents): replace
        # them with your own. Every role of roles.yaml is used here, so 'roster validate' is clean.
        kind: Customer
        id: example
        name: Example Corp
        owner: olivia@example.com            # holds every permission on the customer and its accounts
        limits: {accounts: 10}
        members:
          - user: adam@example.com
            roles: [admin]
          - user: paula@example.com
            roles: [payment-management, reporting]
        ---
        kind: Account
        id: example-live
        customer: example
        name: Example Live Streaming
        service: video-streaming
        # owner: defaults to the customer's owner
        members:
          - user: sam@example.com
            roles: [system-integrator, creator]
          - user: vera@example.com
            roles: [viewer, ecommerce-viewer]
            # expires: 2030-12-31            # time-bound access: ends at 00:00 UTC that day

        """

    /// The same as examples/ci/github-actions.yml (a test keeps them equal).
    static let workflow = #"""
        # roster in GitHub Actions: copy to .github/workflows/roster.yml ('roster init' writes it for you).
        #
        # On every pull request:   validate (annotations on the diff), plan, the plan as a PR comment,
        #                          the plan saved as an artifact.
        # On every push to main:   apply the plan that was reviewed on the pull request, one apply at a time.
        #
        # Settings (Settings → Secrets and variables → Actions):
        #   secret   ROSTER_STATE       the store's URL, e.g. sqlite:/srv/roster/state.db on a self-hosted
        #                               runner that keeps the file. Without it (and always for pull requests
        #                               from forks, which get no secrets) the pull request shows
        #                               'roster diff' against the base branch instead: the same changes and
        #                               access delta, computed from the files alone, with nothing to apply.
        #   variable ROSTER_REPOSITORY  git URL of roster's source, built once per ROSTER_REF and cached;
        #                               not needed when 'roster' is already on the runner's PATH.
        #   variable ROSTER_REF         the branch or tag of roster to build (default: main).
        #   variable ROSTER_CONFIG      path of roster.yaml from the repository root (default: roster.yaml).
        #   variable ROSTER_RUNNER      the runner label (default: ubuntu-24.04); a self-hosted label when
        #                               the store is a SQLite file on that runner.
        name: roster

        on:
          pull_request:
          push:
            branches: [main]
          # Run by hand to apply a fresh plan of main, e.g. after a saved plan went stale.
          workflow_dispatch:

        permissions:
          contents: read

        env:
          ROSTER_CONFIG: ${{ vars.ROSTER_CONFIG || 'roster.yaml' }}
          ROSTER_REPOSITORY: ${{ vars.ROSTER_REPOSITORY }}
          ROSTER_REF: ${{ vars.ROSTER_REF || 'main' }}
          NO_COLOR: "1"

        jobs:
          plan:
            if: github.event_name == 'pull_request'
            runs-on: ${{ vars.ROSTER_RUNNER || 'ubuntu-24.04' }}
            permissions:
              contents: read
              pull-requests: write          # to post the plan as a comment
            steps:
              - uses: actions/checkout@v4
                with:
                  fetch-depth: 0            # 'roster diff' reads the base branch's files from git

              # Installing roster: the same three steps in both jobs.
              - name: Restore roster
                id: cache
                uses: actions/cache@v4
                with:
                  path: ~/.local/bin/roster
                  key: roster-${{ runner.os }}-${{ env.ROSTER_REPOSITORY }}-${{ env.ROSTER_REF }}
              - name: Build roster
                if: steps.cache.outputs.cache-hit != 'true'
                run: |
                  if command -v roster >/dev/null; then exit 0; fi
                  if [ -z "$ROSTER_REPOSITORY" ]; then
                    echo "::error::Set the repository variable ROSTER_REPOSITORY to the git URL of roster's source"
                    exit 1
                  fi
                  sudo apt-get update -qq && sudo apt-get install -y -qq libyaml-dev libsqlite3-dev
                  git clone --depth 1 --branch "$ROSTER_REF" "$ROSTER_REPOSITORY" "$RUNNER_TEMP/roster"
                  swift build -c release --static-swift-stdlib --package-path "$RUNNER_TEMP/roster"   # Swift 6.1+ is on the runner image
                  install -D "$(swift build -c release --package-path "$RUNNER_TEMP/roster" --show-bin-path)/roster" ~/.local/bin/roster
              - run: echo "$HOME/.local/bin" >> "$GITHUB_PATH"

              # Problems become annotations on the pull request's diff; exit 3 stops the job here.
              # Run from the repository root so annotation paths match the repository's files.
              - name: Validate
                run: roster validate --config "$ROSTER_CONFIG" --format github

              - name: Plan
                env:
                  ROSTER_STATE: ${{ secrets.ROSTER_STATE }}
                run: |
                  if [ -n "$ROSTER_STATE" ]; then
                    # Against the store: exactly what merging would apply, saved to apply as reviewed.
                    roster plan --config "$ROSTER_CONFIG" --format markdown --out plan.json > plan.md
                  else
                    # No store credentials: the change between the base branch and this pull request.
                    roster diff --config "$ROSTER_CONFIG" --from "origin/$GITHUB_BASE_REF" --format markdown > plan.md
                  fi
                  cat plan.md >> "$GITHUB_STEP_SUMMARY"

              # One comment per pull request, updated on every push. roster keeps plan.md under 60,000
              # characters (GitHub's limit is 65,536), folding detail and saying what it folded.
              - name: Comment the plan
                if: github.event.pull_request.head.repo.full_name == github.repository
                uses: actions/github-script@v7
                with:
                  script: |
                    const fs = require('fs');
                    const marker = '<!-- roster-plan -->';
                    const body = marker + '\n' + fs.readFileSync('plan.md', 'utf8');
                    const { owner, repo } = context.repo;
                    const issue_number = context.issue.number;
                    const comments = await github.paginate(github.rest.issues.listComments, { owner, repo, issue_number });
                    const mine = comments.find(c => c.user.type === 'Bot' && c.body.startsWith(marker));
                    if (mine) {
                      await github.rest.issues.updateComment({ owner, repo, comment_id: mine.id, body });
                    } else {
                      await github.rest.issues.createComment({ owner, repo, issue_number, body });
                    }

              # The reviewed plan, for the apply job below. Absent when the plan came from 'roster diff'.
              - name: Save the plan
                uses: actions/upload-artifact@v4
                with:
                  name: roster-plan
                  path: plan.json
                  if-no-files-found: ignore
                  retention-days: 30

          apply:
            if: github.event_name != 'pull_request' && github.ref == 'refs/heads/main'
            runs-on: ${{ vars.ROSTER_RUNNER || 'ubuntu-24.04' }}
            # One apply at a time, never cancelled half-way; roster's store lock guards the rest.
            # GitHub keeps one waiting run per group: a newer merge replaces a waiting one, and its
            # apply covers both, or refuses as stale (below) until a manual run applies main afresh.
            concurrency:
              group: roster-apply
              cancel-in-progress: false
            permissions:
              contents: read
              actions: read                 # to find and download the reviewed plan
              pull-requests: read
            env:
              ROSTER_STATE: ${{ secrets.ROSTER_STATE }}
              GH_TOKEN: ${{ github.token }}
            steps:
              - uses: actions/checkout@v4

              - name: Restore roster
                id: cache
                uses: actions/cache@v4
                with:
                  path: ~/.local/bin/roster
                  key: roster-${{ runner.os }}-${{ env.ROSTER_REPOSITORY }}-${{ env.ROSTER_REF }}
              - name: Build roster
                if: steps.cache.outputs.cache-hit != 'true'
                run: |
                  if command -v roster >/dev/null; then exit 0; fi
                  if [ -z "$ROSTER_REPOSITORY" ]; then
                    echo "::error::Set the repository variable ROSTER_REPOSITORY to the git URL of roster's source"
                    exit 1
                  fi
                  sudo apt-get update -qq && sudo apt-get install -y -qq libyaml-dev libsqlite3-dev
                  git clone --depth 1 --branch "$ROSTER_REF" "$ROSTER_REPOSITORY" "$RUNNER_TEMP/roster"
                  swift build -c release --static-swift-stdlib --package-path "$RUNNER_TEMP/roster"
                  install -D "$(swift build -c release --package-path "$RUNNER_TEMP/roster" --show-bin-path)/roster" ~/.local/bin/roster
              - run: echo "$HOME/.local/bin" >> "$GITHUB_PATH"

              # The plan saved by the last successful run on the merged pull request's head commit.
              - name: Find the reviewed plan
                if: github.event_name == 'push'
                run: |
                  pr=$(gh api "repos/$GITHUB_REPOSITORY/commits/$GITHUB_SHA/pulls" --jq '.[0].number // empty')
                  [ -n "$pr" ] || { echo "No pull request merged this commit: applying a fresh plan."; exit 0; }
                  head=$(gh api "repos/$GITHUB_REPOSITORY/pulls/$pr" --jq .head.sha)
                  run=$(gh run list --workflow "$GITHUB_WORKFLOW" --commit "$head" --event pull_request --status success \
                          --limit 1 --json databaseId --jq '.[0].databaseId // empty')
                  if [ -n "$run" ] && gh run download "$run" --name roster-plan --dir reviewed; then
                    echo "Applying the plan reviewed on pull request #$pr (run $run)."
                  else
                    echo "Pull request #$pr saved no plan (it was reviewed with 'roster diff'): applying a fresh plan."
                  fi

              # A saved plan applies exactly as reviewed; if the store moved on since (another apply came
              # first), roster refuses with exit 4 and lists what changed: run this workflow by hand
              # (workflow_dispatch) to apply a fresh plan of main. Blocked safety rails also exit 4;
              # lift one with --allow RAIL in a deliberate, reviewed change to this file.
              - name: Apply
                run: |
                  if [ -z "$ROSTER_STATE" ]; then
                    echo "::error::Set the secret ROSTER_STATE to the store's URL to apply"
                    exit 1
                  fi
                  if [ -f reviewed/plan.json ]; then
                    roster apply --config "$ROSTER_CONFIG" reviewed/plan.json --lock-timeout 10m
                  else
                    roster apply --config "$ROSTER_CONFIG" --auto-approve --lock-timeout 10m
                  fi

        """#
}
