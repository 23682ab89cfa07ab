import Foundation

/// The SQL files of this folder, bundled with the binaries that need them.
public enum SchemaFiles {
    /// The numbered migrations, `NNNN_what_it_does.sql`, applied in order.
    public static var migrationsDirectory: URL {
        guard let url = Bundle.module.url(forResource: "migrations", withExtension: nil) else {
            fatalError("the SQL migrations are missing from the senstat bundle")
        }
        return url
    }
}
