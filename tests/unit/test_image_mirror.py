"""Which Debian mirror a build uses when the recipe names none: the host's own."""

from ffulab.image.mirror import DEFAULT_MIRROR, host_debian_mirror

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBF...
 -----END PGP PUBLIC KEY BLOCK-----
"""


def etc_apt(tmp_path, sources_list="", parts=None):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(sources_list)
    for name, text in (parts or {}).items():
        (tmp_path / "sources.list.d" / name).write_text(text)
    return tmp_path


def test_deb822_picks_the_main_suite_not_security_nor_deb_src(tmp_path):
    assert host_debian_mirror("bookworm", etc_apt(tmp_path, parts={"debian.sources": DEB822})) == (
        "http://mirror.example/debian"
    )


def test_one_line_format_with_options_and_comments(tmp_path):
    text = (
        "# deb http://commented.example/debian bookworm main\n"
        "deb [arch=amd64] http://one.example/debian bookworm main  # the mirror\n"
    )
    assert host_debian_mirror("bookworm", etc_apt(tmp_path, text)) == "http://one.example/debian"


def test_sources_list_comes_before_sources_list_d(tmp_path):
    apt = etc_apt(tmp_path, "deb http://first.example/debian bookworm main\n", {"debian.sources": DEB822})
    assert host_debian_mirror("bookworm", apt) == "http://first.example/debian"


def test_third_party_repositories_and_disabled_entries_are_skipped(tmp_path):
    parts = {
        "a-docker.list": "deb https://download.example/linux/debian bookworm stable\n",
        "b-off.sources": DEB822.replace("Signed-By", "Enabled: no\nSigned-By").replace("mirror.", "off."),
        "c-ignored.list.disabled": "deb http://disabled.example/debian bookworm main\n",
        "d-debian.sources": DEB822,
    }
    assert host_debian_mirror("bookworm", etc_apt(tmp_path, parts=parts)) == "http://mirror.example/debian"


def test_falls_back_to_deb_debian_org(tmp_path):
    trixie_only = etc_apt(tmp_path, parts={"debian.sources": DEB822.replace("bookworm", "trixie")})
    assert host_debian_mirror("bookworm", trixie_only) == DEFAULT_MIRROR
    assert host_debian_mirror("bookworm", tmp_path / "missing") == DEFAULT_MIRROR
