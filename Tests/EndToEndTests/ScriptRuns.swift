import Testing

/// The runs that drive a whole server with a script — the contract (schemathesis), crash safety and the HTTP
/// fuzz — one after another: each loads the machine's two cores on its own, and together with the rest of the
/// suite they would starve it.
@Suite(.serialized) struct ScriptRuns {}
