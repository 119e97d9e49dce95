//! Skills: versions, bundles, and what a session's sandbox sees of them.

use std::io::Read;

use berth_test_support::{FakeModel, Part, TestServer};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::{bash, blob_objects, tool_session};

on_both_backends_with_model!(
    skills_have_versions_bundles_and_reach_the_sandbox,
    skills_upload_as_one_zip_with_the_seeds_parts,
);

fn skill_parts(top: &str, name: &str, description: &str, extra: &[(&str, &str)]) -> Vec<Part> {
    let mut parts = vec![Part::file(
        "files[]",
        &format!("{top}/SKILL.md"),
        format!(
            "---\nname: {name}\ndescription: {description}\n---\n# {name}\nRun scripts/count.py.\n"
        ),
    )];
    for (path, body) in extra {
        parts.push(Part::file(
            "files[]",
            &format!("{top}/{path}"),
            body.as_bytes().to_vec(),
        ));
    }
    parts
}

async fn skills_have_versions_bundles_and_reach_the_sandbox(
    server: &TestServer,
    model: &FakeModel,
) {
    let api = server.api();
    let skill = api
        .multipart(
            "/v1/skills",
            skill_parts(
                "csv-tools",
                "csv-tools",
                "Count rows in CSV files",
                &[("scripts/count.py", "print(42)\n")],
            ),
        )
        .await
        .expect(200);
    assert_eq!(skill["type"], "skill");
    assert_eq!(skill["display_name"], "csv-tools");
    assert_eq!(skill["source"], json!({"type": "custom"}));
    let id = skill["id"].as_str().unwrap().to_owned();
    let first_version = skill["latest_version_id"].as_str().unwrap().to_owned();

    let listed = api.get("/v1/skills").await.expect(200);
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&id.as_str()) && ids.contains(&"xlsx"),
        "{ids:?}"
    );
    assert_eq!(
        api.get("/v1/skills?source=custom").await.expect(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        api.get("/v1/skills?source=anthropic").await.expect(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(api.delete("/v1/skills/xlsx").await.status, 400);

    let (_, _, script) = api
        .get_bytes(&format!("/v1/skills/{id}/files/scripts/count.py"), "*/*")
        .await;
    assert_eq!(script, b"print(42)\n");

    let before = blob_objects(server);
    let dup = api
        .multipart(
            "/v1/skills",
            skill_parts("other", "csv-tools", "again", &[]),
        )
        .await;
    assert_eq!(dup.status, 409);
    assert_eq!(
        dup.body["error"]["details"]["error_code"],
        "skill_name_taken"
    );
    for bad in [
        vec![Part::file(
            "files[]",
            "x/../SKILL.md",
            b"---\nname: a\n---".to_vec(),
        )],
        vec![Part::file(
            "files[]",
            "/abs/SKILL.md",
            b"---\nname: a\n---".to_vec(),
        )],
        vec![Part::file("files[]", "x/README.md", b"no skill".to_vec())],
        vec![Part::file(
            "files[]",
            "x/SKILL.md",
            b"no frontmatter".to_vec(),
        )],
        vec![Part::file(
            "files[]",
            "x/SKILL.md",
            b"---\nname: Bad Name\n---".to_vec(),
        )],
    ] {
        let reply = api.multipart("/v1/skills", bad).await;
        assert_eq!(reply.status, 400, "{}", reply.text);
    }
    let mut huge = skill_parts("big", "big", "too big", &[]);
    huge.push(Part::file("files[]", "big/blob.bin", vec![0u8; 26 << 20]));
    assert_eq!(api.multipart("/v1/skills", huge).await.status, 413);
    assert_eq!(
        blob_objects(server),
        before,
        "refused uploads store nothing"
    );

    let v2 = api
        .multipart(
            &format!("/v1/skills/{id}/versions"),
            skill_parts(
                "csv-tools",
                "csv-tools",
                "Count rows, faster",
                &[("scripts/count.py", "print(43)\n")],
            ),
        )
        .await
        .expect(200);
    assert_eq!(v2["type"], "skill_version");
    assert_eq!(v2["name"], "csv-tools");
    assert_eq!(v2["description"], "Count rows, faster");
    let v2_id = v2["id"].as_str().unwrap().to_owned();
    assert_eq!(
        api.get(&format!("/v1/skills/{id}")).await.expect(200)["latest_version_id"],
        v2_id.as_str()
    );
    let renamed = api
        .multipart(
            &format!("/v1/skills/{id}/versions"),
            skill_parts("x", "other-name", "d", &[]),
        )
        .await;
    assert_eq!(renamed.status, 400);
    let versions = api
        .get(&format!("/v1/skills/{id}/versions"))
        .await
        .expect(200);
    assert_eq!(versions["data"].as_array().unwrap().len(), 2);

    let (status, headers, zipped) = api
        .get_bytes(
            &format!("/v1/skills/{id}/versions/{first_version}/content"),
            "*/*",
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/zip");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped)).unwrap();
    let mut names: Vec<String> = archive.file_names().map(str::to_owned).collect();
    names.sort();
    assert_eq!(names, ["csv-tools/SKILL.md", "csv-tools/scripts/count.py"]);
    let mut text = String::new();
    archive
        .by_name("csv-tools/scripts/count.py")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "print(42)\n");
    // One file of a given version, and of the latest.
    for (version, expected) in [
        (first_version.as_str(), "print(42)\n"),
        (v2_id.as_str(), "print(43)\n"),
    ] {
        let (status, _, script) = api
            .get_bytes(
                &format!("/v1/skills/{id}/versions/{version}/files/scripts/count.py"),
                "*/*",
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(script, expected.as_bytes());
    }
    let (_, _, latest) = api
        .get_bytes(&format!("/v1/skills/{id}/files/scripts/count.py"), "*/*")
        .await;
    assert_eq!(latest, b"print(43)\n");
    let missing = api
        .get(&format!(
            "/v1/skills/{id}/versions/{first_version}/files/nope.txt"
        ))
        .await;
    assert_eq!(missing.status, 404);

    // An agent with the skill: it is in the sandbox and described to the model.
    let refused = api
        .post("/v1/agents", json!({"name": "x", "model": "m", "skills": [{"type": "custom", "skill_id": "skill_missing"}]}))
        .await;
    assert_eq!(refused.status, 400);
    let session = tool_session(
        &api,
        json!([]),
        json!([{"type": "custom", "skill_id": id}, {"type": "anthropic", "skill_id": "pdf"}]),
    )
    .await;
    model.clear_records();
    let out = bash(
        &api,
        model,
        &session,
        1,
        "cat /mnt/skills/csv-tools/scripts/count.py; ls -a /mnt/skills",
    )
    .await;
    assert_eq!(out, "exit=0\nprint(43)\n.\n..\ncsv-tools\n");
    let system = model.turn_requests()[0].body["system"].to_string();
    assert!(
        system.contains("Be useful.")
            && system.contains("csv-tools: Count rows, faster (/mnt/skills/csv-tools/SKILL.md)"),
        "{system}"
    );

    // Versions: the only one cannot go; the latest re-points.
    let deleted = api
        .delete(&format!("/v1/skills/{id}/versions/{v2_id}"))
        .await
        .expect(200);
    assert_eq!(
        deleted,
        json!({"id": v2_id, "type": "skill_version_deleted"})
    );
    assert_eq!(
        api.get(&format!("/v1/skills/{id}")).await.expect(200)["latest_version_id"],
        first_version.as_str()
    );
    assert_eq!(
        api.delete(&format!("/v1/skills/{id}/versions/{first_version}"))
            .await
            .status,
        400
    );
    let deleted = api.delete(&format!("/v1/skills/{id}")).await.expect(200);
    assert_eq!(deleted, json!({"id": id, "type": "skill_deleted"}));
    assert_eq!(api.get(&format!("/v1/skills/{id}")).await.status, 404);
}

/// A zip archive of `(path, bytes)` entries.
fn zipped(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (path, bytes) in entries {
        writer.start_file(*path, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// The seed's upload: one zip archive (metadata files left out, one top folder stripped), and
/// its `description` part, which wins over SKILL.md's; an `id` part is refused, not ignored.
async fn skills_upload_as_one_zip_with_the_seeds_parts(server: &TestServer, _model: &FakeModel) {
    let api = server.api();
    let archive = zipped(&[
        (
            "zipped/SKILL.md",
            b"---\nname: zipped\ndescription: from the file\n---\n# zipped\n",
        ),
        ("zipped/scripts/run.sh", b"echo zipped\n"),
        ("__MACOSX/zipped/._SKILL.md", b"resource fork"),
        ("zipped/.DS_Store", b"finder"),
    ]);
    let skill = api
        .multipart(
            "/v1/skills",
            vec![
                Part::text("display_title", "Zipped skill"),
                Part::text("description", "given explicitly"),
                Part::file("file", "zipped.zip", archive.clone()).with_type("application/zip"),
            ],
        )
        .await
        .expect(200);
    let id = skill["id"].as_str().unwrap();
    let version = api
        .get(&format!("/v1/skills/{id}/versions/latest"))
        .await
        .expect(200);
    assert_eq!(version["name"], "zipped");
    assert_eq!(version["description"], "given explicitly");
    let (status, _, script) = api
        .get_bytes(&format!("/v1/skills/{id}/files/scripts/run.sh"), "*/*")
        .await;
    assert_eq!(status, 200);
    assert_eq!(script, b"echo zipped\n");
    let (_, _, bundle) = api
        .get_bytes(
            &format!(
                "/v1/skills/{id}/versions/{}/content",
                version["id"].as_str().unwrap()
            ),
            "*/*",
        )
        .await;
    let bundle = zip::ZipArchive::new(std::io::Cursor::new(bundle)).unwrap();
    let mut names: Vec<String> = bundle.file_names().map(str::to_owned).collect();
    names.sort();
    assert_eq!(names, ["zipped/SKILL.md", "zipped/scripts/run.sh"]);

    let before = blob_objects(server);
    let refused = api
        .multipart(
            "/v1/skills",
            vec![
                Part::text("id", "my-skill"),
                Part::file("file", "other.zip", archive).with_type("application/zip"),
            ],
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused.error_message().starts_with("id:"),
        "{}",
        refused.text
    );
    for (name, bytes) in [
        ("empty.zip", zipped(&[("__MACOSX/x", b"y")])),
        ("broken.zip", b"not a zip at all".to_vec()),
    ] {
        let refused = api
            .multipart("/v1/skills", vec![Part::file("file", name, bytes)])
            .await;
        assert_eq!(refused.status, 400, "{name}: {}", refused.text);
    }
    assert_eq!(
        blob_objects(server),
        before,
        "refused uploads store nothing"
    );
}
