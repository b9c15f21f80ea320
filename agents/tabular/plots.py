"""Pictures of a tabular run: learning curve, values and greedy policy, one rendered greedy episode.

* grid worlds (FrozenLake, CliffWalking): heatmap of V = max_a Q with an arrow for the greedy
  action in each cell; holes / cliff cells and the goal are marked;
* Taxi: one 5x5 panel per (passenger location, destination) with V and the greedy move;
* Blackjack: value surfaces and stick/hit maps without and with a usable ace (Sutton & Barto, ch. 5);
* anything else: V and the greedy action per state index.

The picture is chosen by the env's traits (`agents.tabular.envs.EnvTraits.picture`), not its id.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rllab.plotting import moving_average, plt, save_figure

ARROWS = {  # picture -> action -> (dx, dy) on an image whose row 0 is drawn at the top
    "frozenlake": {0: (-1, 0), 1: (0, 1), 2: (1, 0), 3: (0, -1)},
    "cliffwalking": {0: (0, -1), 1: (1, 0), 2: (0, 1), 3: (-1, 0)},
    "taxi": {0: (0, 1), 1: (0, -1), 2: (1, 0), 3: (-1, 0)},
}


def plot_run(run) -> list[Path]:
    """Write every picture a run supports into its artifacts folder; returns their paths."""
    from agents.tabular.config import config_from_dict
    from agents.tabular.envs import make_tabular_env
    from agents.tabular.run_folder import load_q_table

    config = config_from_dict(run.config)
    q = load_q_table(run)
    env = make_tabular_env(config.env, config.env_kwargs, max_episode_steps=config.max_episode_steps,
                           render_mode=_render_mode(config.env, config.env_kwargs))
    paths = []
    curve = learning_curve(run)
    if curve is not None:
        paths.append(curve)
    stationary_q = q[0] if q.ndim == 3 else q  # a finite-horizon solution: the policy at the first step
    paths.append(plot_values(env, stationary_q, run.artifact("values.png")))
    episode = render_greedy_episode(env, q, run, seed=run.seed)
    if episode is not None:
        paths.append(episode)
    env.close()
    return paths


def _render_mode(env_id: str, env_kwargs: dict) -> str | None:
    """ANSI text where the env has it (a readable episode.txt), else RGB frames for a GIF."""
    import gymnasium as gym

    env = gym.make(env_id, disable_env_checker=True, **env_kwargs)
    modes = env.metadata.get("render_modes", [])
    env.close()
    return "ansi" if "ansi" in modes else ("rgb_array" if "rgb_array" in modes else None)


def learning_curve(run) -> Path | None:
    """Episode returns with their moving average, the greedy policy's value per interval, the optimum."""
    import json

    from rllab.metrics import read_metrics_csv

    returns_path = run.artifact("returns.npy")
    if not returns_path.is_file():
        return None
    returns = np.load(returns_path, allow_pickle=False)
    metrics = read_metrics_csv(run.metrics_csv)
    result_path = run.artifact("result.json")
    optimum = json.loads(result_path.read_text()).get("optimum") if result_path.is_file() else None
    pyplot = plt()
    fig, ax = pyplot.subplots(figsize=(8, 4.5))
    episodes = np.arange(1, returns.size + 1)
    window = max(1, min(1000, returns.size // 50))
    ax.plot(episodes, returns, alpha=0.15, linewidth=0.5, color="tab:blue", label="episode return (behaviour)")
    ax.plot(episodes, moving_average(returns, window), color="tab:blue", label=f"moving average of {window}")
    if "greedy_return" in metrics and np.isfinite(metrics["greedy_return"]).any():
        ax.plot(metrics["episode"], metrics["greedy_return"], "o-", color="tab:orange", markersize=3,
                label="greedy policy (exact value or evaluation)")
    if optimum is not None:
        ax.axhline(optimum, color="black", linestyle="--", linewidth=1, label=f"optimum {optimum:.4g}")
    low = np.nanpercentile(returns, 1) if returns.size else 0
    ax.set_ylim(bottom=min(low, optimum if optimum is not None else low) - 0.05 * (abs(low) + 1))
    ax.set(xlabel="episode", ylabel="return", title=f"{run.config.get('algo', '')} on {run.config.get('env', '')}")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    return save_figure(fig, run.artifact("learning_curve.png"), dpi=90)


def plot_values(env, q: np.ndarray, path: Path) -> Path:
    """The value / policy picture suited to the environment."""
    picture = env.traits.picture
    if picture == "frozenlake":
        desc = np.asarray(env.env.unwrapped.desc).astype(str)
        return _grid_picture(q, desc, ARROWS[picture], path, f"{env.env_id}: V and greedy action",
                             marks={"H": "hole", "G": "goal", "S": "start"})
    if picture == "cliffwalking":
        rows, cols = env.env.unwrapped.shape
        desc = np.full((rows, cols), ".")
        desc[rows - 1, 1:cols - 1] = "C"
        desc[rows - 1, 0], desc[rows - 1, cols - 1] = "S", "G"
        return _grid_picture(q, desc, ARROWS[picture], path, f"{env.env_id}: V and greedy action",
                             marks={"C": "cliff", "G": "goal", "S": "start"})
    if picture == "taxi":
        return _taxi_picture(env, q, path)
    if picture == "blackjack":
        return _blackjack_picture(env, q, path)
    return _generic_picture(env, q, path)


def _grid_picture(q, desc, arrows, path, title, marks) -> Path:
    rows, cols = desc.shape
    special = np.isin(desc, ("H", "G", "C"))
    # Holes, cliff and goal are never acted in: grey them out rather than colour their unlearned 0.
    v = np.ma.masked_array(q.max(axis=1).reshape(rows, cols), mask=special)
    policy = q.argmax(axis=1).reshape(rows, cols)
    pyplot = plt()
    fig, ax = pyplot.subplots(figsize=(max(4, 0.8 * cols + 1.5), max(3, 0.8 * rows + 0.8)))
    image = ax.imshow(v, cmap=pyplot.get_cmap("viridis").with_extremes(bad="lightgrey"))
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="V = max Q")
    for r in range(rows):
        for c in range(cols):
            cell = desc[r, c]
            if cell in ("H", "G", "C"):
                ax.text(c, r, cell, ha="center", va="center", color="red" if cell != "G" else "gold",
                        fontsize=12, fontweight="bold")
                continue
            dx, dy = arrows[int(policy[r, c])]
            ax.arrow(c - 0.25 * dx, r - 0.25 * dy, 0.3 * dx, 0.3 * dy, head_width=0.15, head_length=0.12,
                     color="white", length_includes_head=False)
    legend = ", ".join(f"{k} = {v}" for k, v in marks.items())
    ax.set(title=f"{title}\n({legend})", xticks=range(cols), yticks=range(rows))
    return save_figure(fig, path, dpi=90)


def _taxi_picture(env, q, path) -> Path:
    unwrapped = env.env.unwrapped
    v, policy = q.max(axis=1), q.argmax(axis=1)
    pyplot = plt()
    fig, axes = pyplot.subplots(5, 4, figsize=(10, 12))
    places = ["R", "G", "Y", "B", "taxi"]
    low, high = v.min(), v.max()
    for state in range(q.shape[0]):
        row, col, passenger, destination = unwrapped.decode(state)
        ax = axes[passenger, destination]
        ax.add_patch(pyplot.Rectangle((col - 0.5, row - 0.5), 1, 1, color=pyplot.cm.viridis((v[state] - low) / (high - low + 1e-12))))
        action = int(policy[state])
        if action in ARROWS["taxi"]:
            dx, dy = ARROWS["taxi"][action]
            ax.arrow(col - 0.2 * dx, row - 0.2 * dy, 0.25 * dx, 0.25 * dy, head_width=0.15, color="white")
        else:
            ax.text(col, row, "P" if action == 4 else "D", ha="center", va="center", color="red", fontweight="bold")
    for passenger in range(5):
        for destination in range(4):
            ax = axes[passenger, destination]
            ax.set(xlim=(-0.5, 4.5), ylim=(4.5, -0.5), xticks=[], yticks=[])
            ax.set_title(f"passenger {places[passenger]} -> {places[destination]}", fontsize=8)
    fig.suptitle(f"{env.env_id}: V (colour, {low:.3g}..{high:.3g}) and greedy move; P pickup, D drop-off")
    return save_figure(fig, path, dpi=90)


def _blackjack_picture(env, q, path) -> Path:
    player, dealer = np.arange(12, 22), np.arange(1, 11)
    pyplot = plt()
    fig = pyplot.figure(figsize=(12, 9))
    for row, usable in enumerate((0, 1)):
        index = np.array([[env.indexer.index((p, d, usable)) for d in dealer] for p in player])
        v, stick_or_hit = q[index].max(axis=-1), q[index].argmax(axis=-1)
        ax = fig.add_subplot(2, 2, 2 * row + 1, projection="3d")
        dealer_grid, player_grid = np.meshgrid(dealer, player)
        ax.plot_surface(dealer_grid, player_grid, v, cmap="viridis", vmin=-1, vmax=1)
        ax.set(xlabel="dealer showing", ylabel="player sum", zlabel="V", zlim=(-1, 1),
               title=f"value, {'usable' if usable else 'no usable'} ace")
        ax = fig.add_subplot(2, 2, 2 * row + 2)
        ax.imshow(stick_or_hit, origin="lower", cmap="coolwarm", vmin=0, vmax=1,
                  extent=(0.5, 10.5, 11.5, 21.5), aspect="auto")
        for i, p in enumerate(player):
            for j, d in enumerate(dealer):
                ax.text(d, p, "H" if stick_or_hit[i, j] else "S", ha="center", va="center", fontsize=8)
        ax.set(xlabel="dealer showing (1 = ace)", ylabel="player sum", xticks=dealer, yticks=player,
               title=f"policy (S stick, H hit), {'usable' if usable else 'no usable'} ace")
    fig.suptitle(env.env_id)
    return save_figure(fig, path, dpi=90)


def _generic_picture(env, q, path) -> Path:
    pyplot = plt()
    fig, (top, bottom) = pyplot.subplots(2, 1, figsize=(8, 5), sharex=True)
    states = np.arange(q.shape[0])
    top.bar(states, q.max(axis=1))
    top.set(ylabel="V = max Q", title=f"{env.env_id}: values and greedy actions by state index")
    bottom.scatter(states, q.argmax(axis=1), s=8)
    bottom.set(xlabel="state index", ylabel="greedy action")
    return save_figure(fig, path, dpi=90)


def render_greedy_episode(env, q: np.ndarray, run, *, seed: int, max_frames: int = 200) -> Path | None:
    """One greedy episode as ANSI text (episode.txt) or a GIF (episode.gif); None when the env cannot render."""
    from agents.tabular.evaluate import greedy_action
    from rllab.plotting import save_gif

    mode = env.env.render_mode if hasattr(env.env, "render_mode") else None
    if mode not in ("ansi", "rgb_array"):
        return None
    # pygame (Blackjack's frames) draws off-screen here; without these it complains about a missing display/audio.
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    state = env.reset(seed=seed)
    frames, total = [env.env.render()], 0.0
    for step in range(max_frames):
        state, reward, terminated, truncated = env.step(greedy_action(q, state, step))
        total += reward
        frames.append(env.env.render())
        if terminated or truncated:
            break
    if mode == "ansi":
        text = "\n".join(f"--- step {i} ---\n{frame}" for i, frame in enumerate(frames))
        path = run.artifact("episode.txt")
        path.write_text(f"{text}\nreturn {total:g} in {len(frames) - 1} steps\n")
        return path
    return save_gif([np.asarray(f, dtype=np.uint8) for f in frames], run.artifact("episode.gif"), fps=2)
