import App
import Core
import Foundation
import LLM
import Storage
import Testing
import Vault

@Suite("Integrations")
struct IntegrationTests {
    @Test("A service-account key is stored as metadata only: JSON object, JSON text or a multipart upload")
    func create() async throws {
        let google = try await FakeGoogle.start()
        let account = try TestServiceAccount()
        try await TestApp.withGoogle(google) { app in
            let user = try await app.signup()
            let id = try await app.connect(account, token: user.access)
            let shown = try await app.request(.get, "/api/v1/integrations/\(id)", token: user.access)
            #expect(shown.status == 200)
            #expect(shown["client_email"] as? String == account.email)
            #expect(shown["project_id"] as? String == "acme-data")
            #expect(shown["kind"] as? String == "google_service_account")
            #expect(!shown.text.contains("PRIVATE KEY"))

            let asText = try await app.request(.post, "/api/v1/integrations", json: ["kind": "google_service_account", "credentials": account.json.jsonString],
                                               token: user.access)
            #expect(asText.status == 201, "\(asText.text)")
            #expect(asText["name"] as? String == account.email, "the name defaults to the account's email")
            let uploaded = try await app.upload(account.json.jsonString, fields: ["name": "Uploaded key"], token: user.access)
            #expect(uploaded.status == 201, "\(uploaded.text)")
            #expect(uploaded["name"] as? String == "Uploaded key")
            let key = try await app.request(.post, "/api/v1/integrations", json: ["kind": "api_key", "credentials": "sk-live-0123456789", "provider": "openai"],
                                            token: user.access)
            #expect(key.status == 201)
            #expect(key["provider"] as? String == "openai")

            let list = try await app.request(.get, "/api/v1/integrations", token: user.access)
            #expect(list["total"] as? Int == 4)
            #expect(!list.text.contains("sk-live") && !list.text.contains("PRIVATE"), "no secret material in any listing")
        }
        await google.stop()
    }

    @Test("Bad credentials answer 400 with field errors and nothing is stored")
    func badInput() async throws {
        let account = try TestServiceAccount()
        try await TestApp.run { app in
            let user = try await app.signup()
            func post(_ body: [String: Any]) async throws -> Reply {
                try await app.request(.post, "/api/v1/integrations", json: body, token: user.access)
            }
            #expect(try await post(["kind": "google_service_account", "credentials": "not json at all"]).fieldErrors["credentials"] == "invalid_json")
            var wrongType = account.json.objectValue!
            wrongType["type"] = "authorized_user"
            #expect(try await post(["kind": "google_service_account", "credentials": JSONValue.object(wrongType).anyValue!]).fieldErrors["credentials.type"] == "invalid")
            let missing = try await post(["kind": "google_service_account", "credentials": ["type": "service_account"]])
            #expect(Set(missing.fieldErrors.keys) == ["credentials.project_id", "credentials.client_email", "credentials.private_key"])
            var badKey = account.json.objectValue!
            badKey["private_key"] = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg==\n-----END PRIVATE KEY-----\n"
            #expect(try await post(["kind": "google_service_account", "credentials": JSONValue.object(badKey).anyValue!]).fieldErrors["credentials.private_key"] == "invalid")
            var oddEmail = account.json.objectValue!
            oddEmail["client_email"] = "bot\u{0}@acme.iam.gserviceaccount.com"
            #expect(try await post(["kind": "google_service_account", "credentials": JSONValue.object(oddEmail).anyValue!]).fieldErrors["credentials.client_email"] == "invalid")
            var padded = account.json.objectValue!
            padded["padding"] = .string(String(repeating: "x", count: 70_000))
            #expect(try await post(["kind": "google_service_account", "credentials": JSONValue.object(padded).anyValue!]).fieldErrors["credentials"] == "too_large")
            #expect(try await app.upload(JSONValue.object(padded).jsonString, token: user.access).fieldErrors["credentials"] == "too_large")
            #expect(try await app.upload("{broken", token: user.access).fieldErrors["credentials"] == "invalid_json")
            #expect(try await post(["kind": "ssh_key", "credentials": "x"]).fieldErrors["kind"] == "unknown_kind")
            #expect(try await post(["kind": "api_key", "credentials": "has spaces in it"]).fieldErrors["credentials"] == "invalid_api_key")
            #expect(try await post(["kind": "api_key", "credentials": "sk-1", "provider": "acme"]).fieldErrors["provider"] == "unknown_provider")
            #expect(try await post(["kind": "api_key", "credentials": "sk-1", "tier": "team"]).fieldErrors["tier"] == "unknown_field")
            let list = try await app.request(.get, "/api/v1/integrations", token: user.access)
            #expect(list["total"] as? Int == 0)
            let errors = try await post(["kind": "google_service_account", "credentials": JSONValue.object(badKey).anyValue!]).text
            #expect(!errors.contains("MIIEvQIBADANBg"), "errors never echo the key")
        }
    }

    @Test("No part of a private key reaches the database or the logs")
    func nothingInTheClear() async throws {
        let google = try await FakeGoogle.start()
        let account = try TestServiceAccount()
        google.register(account)
        try await TestApp.withGoogle(google) { app in
            let user = try await app.signup()
            let id = try await app.connect(account, token: user.access)
            _ = try await app.request(.post, "/api/v1/integrations/\(id)/validate", token: user.access)
            _ = try await app.upload(account.json.jsonString, token: user.access)
            let dump = try await app.storeDump()
            #expect(dump.contains(account.email), "the dump is real: it holds the metadata")
            let logs = app.logs.all.joined(separator: "\n")
            for fragment in account.keyFragments {
                #expect(!dump.contains(fragment), "a piece of the private key is in the store")
                #expect(!logs.contains(fragment), "a piece of the private key is in the logs")
            }
        }
        await google.stop()
    }

    @Test("A ciphertext moved to another user's row, or with any bit flipped, does not decrypt")
    func tampering() async throws {
        let first = try TestServiceAccount(), second = try TestServiceAccount()
        try await TestApp.run { app in
            let alice = try await app.signup(), bob = try await app.signup()
            let a = try await app.connect(first, token: alice.access), b = try await app.connect(second, token: bob.access)
            let db = app.server.database
            let aliceID = try #require(UUID(uuidString: alice.userID)), bobID = try #require(UUID(uuidString: bob.userID))
            let aID = try #require(UUID(uuidString: a)), bID = try #require(UUID(uuidString: b))
            let (_, secret) = try await app.server.integrations.secret(aID, userID: aliceID)
            #expect(JSONValue.parse(secret)?["client_email"]?.stringValue == first.email)

            // Swap the sealed secrets of the two rows.
            let rows = try await db.all("SELECT id, key_id, wrapped_key, ciphertext FROM integrations")
            let sealed = Dictionary(uniqueKeysWithValues: try rows.map { row in
                (try row.decode(column: "id", as: String.self), try (row.decode(column: "key_id", as: String.self),
                                                                      row.decode(column: "wrapped_key", as: String.self),
                                                                      row.decode(column: "ciphertext", as: String.self)))
            })
            for (target, source) in [(a, b), (b, a)] {
                let (keyID, wrapped, ciphertext) = sealed[source]!
                try await db.run("UPDATE integrations SET key_id = \(bind: keyID), wrapped_key = \(bind: wrapped), ciphertext = \(bind: ciphertext) WHERE id = \(bind: target)")
            }
            await #expect(throws: VaultError.decryptionFailed) { try await app.server.integrations.secret(aID, userID: aliceID) }
            await #expect(throws: VaultError.decryptionFailed) { try await app.server.integrations.secret(bID, userID: bobID) }

            // Put A's back, then flip one bit of its ciphertext.
            let (keyID, wrapped, ciphertext) = sealed[a]!
            var bytes = Data(base64Encoded: ciphertext)!
            bytes[bytes.count / 2] ^= 0x04
            try await db.run("UPDATE integrations SET key_id = \(bind: keyID), wrapped_key = \(bind: wrapped), ciphertext = \(bind: bytes.base64EncodedString()) WHERE id = \(bind: a)")
            await #expect(throws: VaultError.decryptionFailed) { try await app.server.integrations.secret(aID, userID: aliceID) }
            let validate = try await app.request(.post, "/api/v1/integrations/\(a)/validate", token: alice.access)
            #expect(validate.status == 500, "a secret that fails to decrypt is a server-side fault, never a wrong answer")
        }
    }

    @Test("Another user cannot list, read, validate, delete or use an integration: 404 everywhere")
    func ownership() async throws {
        let google = try await FakeGoogle.start()
        let account = try TestServiceAccount()
        google.register(account)
        try await TestApp.withGoogle(google) { app in
            let alice = try await app.signup(), bob = try await app.signup()
            let id = try await app.connect(account, token: alice.access)
            let list = try await app.request(.get, "/api/v1/integrations", token: bob.access)
            #expect(list["total"] as? Int == 0)
            #expect(try await app.request(.get, "/api/v1/integrations/\(id)", token: bob.access).status == 404)
            #expect(try await app.request(.post, "/api/v1/integrations/\(id)/validate", token: bob.access).status == 404)
            #expect(try await app.request(.delete, "/api/v1/integrations/\(id)", token: bob.access).status == 404)
            #expect(try await app.request(.get, "/api/v1/integrations/not-an-id", token: bob.access).status == 404)
            #expect(try await app.request(.get, "/api/v1/integrations/\(id)", token: alice.access).status == 200, "still there")
            #expect(google.issued == 0, "nothing was done with Alice's key for Bob")
        }
        await google.stop()
    }

    @Test("Deleting an integration destroys its secret")
    func delete() async throws {
        let account = try TestServiceAccount()
        try await TestApp.run { app in
            let user = try await app.signup()
            let id = try await app.connect(account, token: user.access)
            #expect(try await app.request(.delete, "/api/v1/integrations/\(id)", token: user.access).status == 204)
            #expect(try await app.request(.get, "/api/v1/integrations/\(id)", token: user.access).status == 404)
            let rows = try await app.server.database.all("SELECT id FROM integrations")
            #expect(rows.isEmpty)
        }
    }

    @Test("Validate: a live token and no-cost calls, each with its reason; a revoked key and a bad API key are reported")
    func validate() async throws {
        let google = try await FakeGoogle.start()
        let account = try TestServiceAccount()
        google.register(account, properties: ["123456789", "987654321"])
        try await TestApp.withGoogle(google) { app in
            let user = try await app.signup()
            let id = try await app.connect(account, token: user.access)
            let good = try await app.request(.post, "/api/v1/integrations/\(id)/validate", token: user.access)
            #expect(good.status == 200)
            #expect(good["valid"] as? Bool == true)
            #expect(good["status"] as? String == "valid")
            let checks = good["checks"] as? [[String: Any]] ?? []
            #expect(checks.map { $0["name"] as? String } == ["token", "bigquery", "analytics"])
            #expect(checks.allSatisfy { $0["ok"] as? Bool == true })
            #expect((checks[2]["detail"] as? String)?.contains("2 properties") == true)

            google.revoke(account)
            let other = try await app.connect(account, token: user.access, name: "Same key, new integration")
            let revoked = try await app.request(.post, "/api/v1/integrations/\(other)/validate", token: user.access)
            #expect(revoked["valid"] as? Bool == false)
            #expect(((revoked["checks"] as? [[String: Any]])?.first?["detail"] as? String)?.contains("refused to issue a token") == true)

            for (key, expected) in [("sk-good", true), ("sk-bad", false)] {
                let created = try await app.request(.post, "/api/v1/integrations", json: ["kind": "api_key", "credentials": key, "provider": "openai"], token: user.access)
                let checked = try await app.request(.post, "/api/v1/integrations/\(created["id"] as? String ?? "")/validate", token: user.access)
                #expect(checked["valid"] as? Bool == expected, "\(checked.text)")
            }
            let unknown = try await app.request(.post, "/api/v1/integrations", json: ["kind": "api_key", "credentials": "k-123"], token: user.access)
            let unchecked = try await app.request(.post, "/api/v1/integrations/\(unknown["id"] as? String ?? "")/validate", token: user.access)
            #expect(unchecked.status == 200)
            #expect(unchecked["status"] as? String == "unchecked")
            #expect(unchecked["valid"] as? Bool == false)
        }
        await google.stop()
    }

    @Test("Key rotation: a new master key, every data key re-wrapped, everything still readable; a lost key stops start-up")
    func rotation() async throws {
        let first = try TestServiceAccount(), second = try TestServiceAccount()
        try await TestApp.run { app in
            let user = try await app.signup()
            let userID = try #require(UUID(uuidString: user.userID))
            let ids = [try await app.connect(first, token: user.access), try await app.connect(second, token: user.access)]
            let before = try await app.server.database.all("SELECT DISTINCT key_id FROM integrations").map { try $0.decode(column: "key_id", as: String.self) }
            let ciphertexts = try await app.server.database.all("SELECT ciphertext FROM integrations ORDER BY id").map { try $0.decode(column: "ciphertext", as: String.self) }

            let outcome = try await KeyRotation.run(settings: app.settings, logger: TestDatabase.logger)
            #expect(outcome.newKey)
            #expect(outcome.rewrapped == 2)
            #expect(!before.contains(outcome.activeKeyID))
            let after = try await app.server.database.all("SELECT DISTINCT key_id FROM integrations").map { try $0.decode(column: "key_id", as: String.self) }
            #expect(after == [outcome.activeKeyID])
            let unchanged = try await app.server.database.all("SELECT ciphertext FROM integrations ORDER BY id").map { try $0.decode(column: "ciphertext", as: String.self) }
            #expect(unchanged == ciphertexts, "ciphertexts are untouched: no secret was decrypted and encrypted again")
            // The running server, started before the rotation, reads both.
            for (id, account) in zip(ids, [first, second]) {
                let (_, secret) = try await app.server.integrations.secret(UUID(uuidString: id)!, userID: userID)
                #expect(JSONValue.parse(secret)?["client_email"]?.stringValue == account.email)
            }
            // A second rotation with nothing left behind re-wraps everything again, under the newest key.
            #expect(try await KeyRotation.run(settings: app.settings, logger: TestDatabase.logger).rewrapped == 2)

            // Without the keyring the secrets are unreadable: the server refuses to start rather than serve them broken.
            try FileManager.default.removeItem(atPath: app.settings.keyringPath)
            await #expect(throws: StartupError.self) { try await Switchboard.build(settings: app.settings, logger: TestDatabase.logger) }
        }
    }
}
