"""DQN on Atari (ALE/Breakout-v5, offline: the ROM ships in ale-py): envs, flags, smoke run, resume, eval."""
import json

import numpy as np
import pytest

from agents.dqn.config import config_for_env
from agents.dqn.envs import make_envs
from rllab.precision import native_bfloat16

BREAKOUT = "ALE/Breakout-v5"


def _random_steps(envs, steps, seed=0):
    rng = np.random.default_rng(seed)
    envs.reset(seed=seed)
    terminations = game_overs = 0
    for _ in range(steps):
        obs, rewards, terminated, truncated, info = envs.step(rng.integers(0, 4, envs.num_envs))
        terminations += int(terminated.sum())
        game_overs += int(info["game_over"].sum())
    return obs, terminations, game_overs


def test_envs_give_uint8_frame_stacks_and_mark_game_ends_apart_from_life_losses():
    life_loss = make_envs(config_for_env(BREAKOUT), 2)
    whole_game = make_envs(config_for_env(BREAKOUT, {"life_loss_episodes": False}), 2)
    try:
        obs, terminations, game_overs = _random_steps(life_loss, 600)
        assert obs.shape == (2, 4, 84, 84) and obs.dtype == np.uint8
        assert game_overs >= 1 and terminations >= 4 * game_overs  # 5 lives: a termination per lost life
        _, terminations, game_overs = _random_steps(whole_game, 600)
        assert game_overs >= 1 and terminations == game_overs
    finally:
        life_loss.close()
        whole_game.close()


def _tiny(**overrides):
    values = dict(total_steps=2000, learning_starts=500, buffer_size=8000, eval_interval=1000, eval_episodes=1,
                  checkpoint_every_epochs=1, exploration_fraction=0.5)
    return config_for_env(BREAKOUT, {**values, **overrides})


@pytest.mark.parametrize("native, compute_dtype", [(True, "bfloat16"), (False, "float32")])
def test_atari_computes_in_bfloat16_only_where_the_machine_has_it(monkeypatch, native, compute_dtype):
    from agents.dqn import networks

    config = config_for_env(BREAKOUT)
    assert config.mixed_precision == "auto" and config_for_env("CartPole-v1").mixed_precision is False
    monkeypatch.setattr(networks, "resolve_mixed_precision", lambda value: native if value == "auto" else value)
    q_network = networks.q_network_for(config, (4, 84, 84), 4)  # the env's channels-first stacks
    assert {layer.dtype_policy.compute_dtype for layer in q_network.layers if layer.weights} == {compute_dtype}
    assert q_network.output.dtype == "float32"


@pytest.mark.parametrize("clip", [True, False])
def test_rewards_are_clipped_for_learning_only_and_scores_stay_unclipped(clip):
    from agents.dqn.dqn import DQNAgent

    agent = DQNAgent(_tiny(clip_rewards=clip, learning_starts=10_000), seed=0)
    step = agent.envs.step

    def five_times_the_reward(actions):  # rewards Breakout's bottom rows never give: clipping shows
        obs, rewards, terminated, truncated, info = step(actions)
        return obs, 5 * rewards, terminated, truncated, info

    agent.envs.step = five_times_the_reward
    try:
        for _ in range(700):
            agent.collect()
    finally:
        agent.close()
    stored = set(np.unique(agent.buffer.rewards[agent.buffer.has_action]).tolist())
    scores = [score for _, score, _ in agent.games]
    assert agent.games and max(scores) >= 5 and all(score % 5 == 0 for score in scores)
    assert stored == ({0.0, 1.0} if clip else {0.0, 5.0})


def test_smoke_run_resumes_with_its_buffer_and_evaluates(tmp_path, capsys):
    from agents.dqn import dqn
    from rllab.cli import main

    run_dir = tmp_path / "breakout"
    summary = dqn.train(_tiny(), seed=0, run_dir=run_dir, progress=False)
    assert summary["env_steps"] == 2000 and summary["gradient_steps"] == (2000 - 500) // 4
    assert summary["mixed_precision"] is native_bfloat16()  # Atari's "auto", decided on this machine
    games = (run_dir / "artifacts" / "games.csv").read_text().splitlines()
    assert games[0] == "env_step,score,length" and len(games) >= 2
    assert (run_dir / "artifacts" / "learning_curve.png").stat().st_size > 0

    summary = dqn.train(_tiny(total_steps=3000), run_dir=run_dir, resume=True, given={"total_steps": 3000},
                        progress=False)
    assert summary["env_steps"] == 3000 and summary["gradient_steps"] == (3000 - 500) // 4
    with np.load(next((run_dir / "checkpoints").glob("*.bulk.npz"))) as bulk:
        slots = int(bulk["replay/count"].sum())
    assert slots > 3000  # the 2000 steps before the resume are still in the buffer (1000 alone: ~1000 slots)

    assert main(["dqn", "eval", "--run-dir", str(run_dir), "--episodes", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["env_id"] == BREAKOUT and report["episodes"] == 1 and report["epsilon"] == 0.05
    assert report["min_return"] == report["median_return"] == report["max_return"] >= 0

    video = tmp_path / "breakout.mp4"
    assert main(["dqn", "play", "--run-dir", str(run_dir), "--video", str(video), "--frame-every", "8"]) == 0
    assert video.stat().st_size > 0 and "ALE/Breakout-v5: returns" in capsys.readouterr().out


@pytest.mark.parametrize("life_loss", [True, False])
def test_the_observation_reached_at_an_episode_end_continues_the_frame_stack(life_loss):
    # ALE 0.12 leaves info["final_obs"] unwritten after a lost life; what the replay stores must be the
    # stack actually reached: the previous stack shifted by one frame.
    from agents.dqn.envs import true_next_obs

    envs = make_envs(config_for_env(BREAKOUT, {"life_loss_episodes": life_loss}), 2)
    rng = np.random.default_rng(1)
    ends = 0
    try:
        obs, _ = envs.reset(seed=1)
        for _ in range(700):
            next_obs, _, terminated, truncated, info = envs.step(rng.integers(0, 4, 2))
            done = terminated | truncated
            reached = true_next_obs(next_obs, done, info)
            np.testing.assert_array_equal(reached[:, :-1], obs[:, 1:])
            ends += int(done.sum())
            obs = next_obs
    finally:
        envs.close()
    assert ends >= (4 if life_loss else 1)
