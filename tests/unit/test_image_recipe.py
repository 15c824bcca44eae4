"""The recipe digest: what must rebuild the image, and what must not."""

import shutil

import pytest

from ffulab.errors import ConfigError
from ffulab.image import guest, recipe
from ffulab.image.recipe import BASE_PACKAGES, ImageRecipe

MIRROR = "http://deb.example.org/debian"


def make(**fields):
    return ImageRecipe(**{"mirror": MIRROR, **fields})


@pytest.fixture
def rootfs_copy(tmp_path, monkeypatch):
    """A private copy of the files the build bakes in, so a test can edit them."""
    copy = tmp_path / "rootfs"
    shutil.copytree(guest.ROOTFS, copy)
    monkeypatch.setattr(guest, "ROOTFS", copy)
    return copy


def test_digest_is_stable_for_equal_recipes():
    assert make(packages=("haproxy",)).digest() == make(packages=("haproxy",)).digest()
    assert len(make().digest()) == 64


def test_package_order_and_duplicates_do_not_change_the_digest():
    assert (
        make(packages=("mariadb-server", "haproxy")).digest()
        == make(packages=("haproxy", "mariadb-server", "haproxy")).digest()
    )


def test_naming_a_base_package_again_does_not_change_the_digest():
    assert make(packages=("sudo",)).digest() == make().digest()


def test_adding_a_package_changes_the_digest():
    assert make(packages=("haproxy",)).digest() != make().digest()


@pytest.mark.parametrize(
    "field, value", [("suite", "trixie"), ("mirror", "http://other.example/debian"), ("size_gib", 8)]
)
def test_every_recipe_field_is_part_of_the_digest(field, value):
    assert make(**{field: value}).digest() != make().digest()


def test_editing_the_firstboot_script_changes_the_digest(rootfs_copy):
    before = make().digest()
    script = rootfs_copy / "usr/local/sbin/ffulab-firstboot"
    script.write_text(script.read_text() + "# changed\n")
    assert make().digest() != before


def test_editing_the_network_config_changes_the_digest(rootfs_copy):
    before = make().digest()
    (rootfs_copy / "etc/systemd/network/80-dhcp.network").write_text("[Match]\nName=en*\n")
    assert make().digest() != before


def test_a_new_baked_in_file_changes_the_digest(rootfs_copy):
    before = make().digest()
    (rootfs_copy / "etc/motd").write_text("hello\n")
    assert make().digest() != before


def test_bumping_build_format_changes_the_digest(monkeypatch):
    before = make().digest()
    monkeypatch.setattr(recipe, "BUILD_FORMAT", recipe.BUILD_FORMAT + 1)
    assert make().digest() != before


def test_changing_the_masked_units_changes_the_digest(monkeypatch):
    before = make().digest()
    monkeypatch.setattr(guest, "MASK_UNITS", guest.MASK_UNITS[1:])
    assert make().digest() != before


def test_packages_hold_the_base_set_sorted_plus_the_extras():
    packages = make(packages=("mariadb-server", "haproxy")).packages
    assert packages == tuple(sorted(packages))
    assert set(BASE_PACKAGES) | {"haproxy", "mariadb-server"} == set(packages)


def test_mirror_defaults_to_the_hosts_debian_mirror(monkeypatch):
    monkeypatch.setattr(recipe, "host_debian_mirror", lambda suite: f"http://mirror.test/{suite}/")
    assert ImageRecipe().mirror == "http://mirror.test/bookworm"


def test_from_config_builds_the_same_recipe_as_the_constructor():
    config = {"suite": "bookworm", "mirror": MIRROR, "packages": ["haproxy", "mariadb-server"], "size_gib": 6}
    assert ImageRecipe.from_config(config) == make(packages=("mariadb-server", "haproxy"), size_gib=6)


@pytest.mark.parametrize(
    "config, key",
    [
        ({"packages": ["haproxy"], "colour": "blue"}, "colour"),
        ({"packages": "haproxy"}, "packages"),
        ({"packages": ["Bad Name"]}, "packages"),
        ({"packages": ["x,--hook=evil"]}, "packages"),
        ({"packages": [], "size_gib": "6"}, "size_gib"),
        ({"packages": [], "size_gib": 1}, "size_gib"),
        ({"packages": [], "suite": "Bookworm!"}, "suite"),
        ({"packages": [], "mirror": "ftp://x/debian"}, "mirror"),
    ],
)
def test_from_config_errors_name_the_source_and_the_key(config, key):
    with pytest.raises(ConfigError) as caught:
        ImageRecipe.from_config({"mirror": MIRROR, **config}, source="labs/minimal.yml")
    assert (caught.value.source, caught.value.key) == ("labs/minimal.yml", key)
    assert caught.value.exit_code == 2
