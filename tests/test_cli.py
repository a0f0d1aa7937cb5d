import subprocess

from inrcodec.cli import main


def test_demo_prints_size_ratio_and_errors(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "bits per value" in out and "ratio" in out and "held out 192-239" in out


def test_bad_settings_give_one_readable_line_and_a_non_zero_exit():
    result = subprocess.run(["inrcodec", "demo", "--latent-bits", "0"], capture_output=True,
                            text=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "inrcodec demo: error: latent bits must be a multiple of 1/16 from 1 to 12 "
        "(such as 5 or 6.375), not 0.0"]
